"""FastMCP.from_openapi over the project's spec, for `cargo benchmarks matrix`.

Usage: python fastmcp_server.py SPEC_YAML BRIDGE_URL PORT   (bearer token in OP_SCIM_BEARER_TOKEN)

Serves MCP over Streamable HTTP at http://127.0.0.1:PORT/mcp with FastMCP's defaults (stateful
sessions, SSE answers). The token reaches the bridge through the httpx client's default headers,
which is how FastMCP's docs configure upstream auth. FastMCP 4.x ships its httpx fork as `httpx2`.
"""

import os
import sys

import yaml

try:
    import httpx2 as httpx
except ImportError:  # FastMCP before 4.x used httpx itself
    import httpx

from fastmcp import FastMCP


def main() -> None:
    spec_path, bridge_url, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    token = os.environ["OP_SCIM_BEARER_TOKEN"]
    with open(spec_path, encoding="utf-8") as handle:
        spec = yaml.safe_load(handle)
    client = httpx.AsyncClient(
        base_url=bridge_url,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30.0,
    )
    server = FastMCP.from_openapi(openapi_spec=spec, client=client, name="1Password SCIM (FastMCP)")
    server.run(transport="http", host="127.0.0.1", port=port, show_banner=False, log_level="warning")


if __name__ == "__main__":
    main()
