//! Files that hold secrets or records (the registry, the audit log): created readable by their
//! owner only, and named when an existing one is readable by others.

use std::path::Path;

/// Creates `path` empty with mode 0600 unless it exists; leaves an existing file alone.
pub fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// A warning when the file at `path` exists and others than its owner may read it.
pub fn readable_by_others(path: &Path) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        (mode & 0o077 != 0).then(|| {
            format!(
                "{} is readable by others than its owner (mode {:o}): chmod 600 it",
                path.display(),
                mode & 0o777
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_file_is_private_and_an_open_one_is_named() {
        let dir = std::env::temp_dir().join(format!("files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("registry.db");
        let _ = std::fs::remove_file(&path);
        create_private(&path).expect("created");
        assert_eq!(readable_by_others(&path), None);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
            let warning = readable_by_others(&path).expect("a warning");
            assert!(
                warning.contains("mode 644") && warning.contains("chmod 600"),
                "{warning}"
            );
            // An existing file keeps its mode: creating is not fixing.
            create_private(&path).expect("exists");
            assert!(readable_by_others(&path).is_some());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
