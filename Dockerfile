# The op-scim-mcp container image: one binary on a slim Debian, run as a non-root user.
#
#   docker build -t op-scim-mcp .
#   docker run --read-only -p 8787:8787 -e OP_SCIM_BRIDGE_URL=... -e OP_SCIM_BEARER_TOKEN=... \
#       -e OP_SCIM_ALLOWED_HOSTS=mcp.example.com op-scim-mcp
#
# Image references name no registry host on purpose: they resolve against whatever registry (or
# mirror) the builder is configured with.

# Build stage. Debian bookworm, like the runtime stage below, so the binary links against the same
# glibc it runs with. The toolchain is pinned (at or above the workspace's rust-version) so an
# image built today and one built next month come from the same compiler.
FROM rust:1.95.0-bookworm AS build
WORKDIR /src
COPY . .
# Exactly the build CI tests (xtask/src/ci.rs, RELEASE_BUILD; a test keeps the two equal).
# --locked: the versions of Cargo.lock, never newer ones resolved at image build time.
RUN cargo build --release --locked --bin op-scim-mcp

# Runtime stage: glibc, libgcc and CA certificates, nothing else (no shell tools are needed; the
# health check uses the binary itself).
FROM debian:bookworm-slim
# The bridge is reached over HTTPS and rustls verifies it against the system trust store.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/op-scim-mcp /usr/local/bin/op-scim-mcp
# The only writable path the server may need: the SQLite registry (--state /data/registry.db)
# when it runs without PostgreSQL. Everything else works with a read-only root filesystem.
# Owned by the numeric user below; no passwd entry is needed for a numeric USER.
RUN mkdir /data && chown 10001:10001 /data
VOLUME /data
# The working directory is the volume, so a relative `--state registry.db` lands in it rather than in
# the read-only root. Serving on 0.0.0.0 (below) needs a registry: OP_SCIM_STATE or
# OP_SCIM_DATABASE_URL, which the registry commands (`admin-keys create`, ...) read too.
WORKDIR /data
USER 10001:10001
# Serve MCP over HTTP on all interfaces by default; any flag or variable can still override these.
# Logs are JSON lines, which container log collectors parse.
ENV OP_SCIM_TRANSPORT=http \
    OP_SCIM_LISTEN=0.0.0.0:8787 \
    OP_SCIM_LOG_FORMAT=json
EXPOSE 8787
# The image has no curl: the binary probes its own liveness endpoint (exit 0 on HTTP 200), on
# the port of OP_SCIM_LISTEN, so overriding the listen address keeps the health check right.
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
    CMD ["op-scim-mcp", "probe"]
ENTRYPOINT ["op-scim-mcp"]
