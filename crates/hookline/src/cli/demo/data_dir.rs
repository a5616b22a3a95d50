//! The demo's data directory: emptied at every start, so the demo only ever
//! empties a directory it made itself. It marks the directories it makes
//! with a file and refuses any other that is not empty, leaving it as it is.

use std::path::Path;

use anyhow::{bail, Context};

/// The file that says "the demo made this directory".
pub(super) const MARKER: &str = ".hookline-demo";

/// Makes `dir` an empty directory for the demo's database, carrying the
/// marker. A new or empty directory is taken; one with the marker is
/// emptied; anything else is refused with what to do instead.
pub(super) fn prepare(dir: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(dir) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
        Err(err) => bail!(
            "cannot use {} as the demo's data directory: {err}; pass --data-dir with a new or empty directory",
            dir.display()
        ),
        Ok(entries) => {
            let mut names: Vec<String> = entries
                .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
                .collect::<Result<_, _>>()
                .with_context(|| format!("cannot read {}", dir.display()))?;
            if names.iter().any(|n| n == MARKER) {
                std::fs::remove_dir_all(dir)
                    .with_context(|| format!("cannot empty {}", dir.display()))?;
            } else if !names.is_empty() {
                names.sort();
                let shown = names.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
                let more = if names.len() > 3 { ", …" } else { "" };
                bail!(
                    "{dir} holds files the demo did not make ({shown}{more}), and the demo empties \
                     its data directory at every start, so it leaves {dir} alone. Pass \
                     --data-dir with a new or empty directory (or remove {dir} yourself).",
                    dir = dir.display()
                );
            }
        }
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::write(
        dir.join(MARKER),
        "Made by `hookline demo`, which empties this directory at its next start.\n",
    )
    .with_context(|| format!("cannot write {}", dir.join(MARKER).display()))?;
    Ok(())
}
