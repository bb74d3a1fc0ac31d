//! What each layer of an image costs: its size, the step that made it, and
//! the bytes it carries that later layers overwrite or delete (and so never
//! show in a container), with the total an image would save without them.
//! Layers are read once, in order, as tar streams; nothing is unpacked.

use std::collections::BTreeMap;
use std::io::Read;

use super::error::{io_at, ImageError};
use super::Image;
use crate::layer::{decompressor, detect_compression};
use crate::store::Store;

/// One layer's line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerCost {
    /// Bytes of regular files the layer holds (uncompressed).
    pub content: u64,
    /// Of those, bytes later layers overwrite or delete.
    pub wasted: u64,
    /// The history entry that made it (`created_by`).
    pub created_by: String,
}

/// Files present so far: path → (layer, size).
type Visible = BTreeMap<String, (usize, u64)>;

fn clean(path: &str) -> String {
    path.trim_start_matches("./")
        .trim_start_matches('/')
        .trim_end_matches('/')
        .to_string()
}

/// Removes `path` and everything below it, charging their layers.
fn hide(visible: &mut Visible, wasted: &mut [u64], path: &str, below_only: bool) {
    let prefix = format!("{path}/");
    let mut gone: Vec<String> = visible
        .range(prefix.clone()..)
        .take_while(|(p, _)| p.starts_with(&prefix))
        .map(|(p, _)| p.clone())
        .collect();
    if !below_only && visible.contains_key(path) {
        gone.push(path.to_string());
    }
    for p in gone {
        if let Some((layer, size)) = visible.remove(&p) {
            wasted[layer] += size;
        }
    }
}

/// Reads every layer and charges each its hidden bytes.
pub fn layer_costs(store: &Store, image: &Image) -> Result<Vec<LayerCost>, ImageError> {
    let mut visible = Visible::new();
    let mut content = vec![0u64; image.layers.len()];
    let mut wasted = vec![0u64; image.layers.len()];
    for (index, layer) in image.layers.iter().enumerate() {
        let path = store.blob_path(&layer.blob);
        let mut file = std::fs::File::open(&path).map_err(io_at(&path))?;
        let mut head = [0u8; 4];
        let n = file.read(&mut head).map_err(io_at(&path))?;
        let file = std::io::Cursor::new(head[..n].to_vec()).chain(file);
        let reader = decompressor(file, detect_compression(&head[..n]))?;
        let mut archive = tar::Archive::new(reader);
        for entry in archive.entries().map_err(io_at(&path))? {
            let entry = entry.map_err(io_at(&path))?;
            let name = clean(&entry.path().map_err(io_at(&path))?.to_string_lossy());
            let (dir, base) = match name.rsplit_once('/') {
                Some((d, b)) => (d.to_string(), b.to_string()),
                None => (String::new(), name.clone()),
            };
            if base == ".wh..wh..opq" {
                hide(&mut visible, &mut wasted, &dir, true);
            } else if let Some(deleted) = base.strip_prefix(".wh.") {
                let target = if dir.is_empty() {
                    deleted.to_string()
                } else {
                    format!("{dir}/{deleted}")
                };
                hide(&mut visible, &mut wasted, &target, false);
            } else if entry.header().entry_type().is_dir() {
                // A directory replaces a file of the same name, not its own
                // earlier contents.
                if let Some((layer, size)) = visible.remove(&name) {
                    wasted[layer] += size;
                }
            } else {
                let size = if entry.header().entry_type().is_file() {
                    entry.size()
                } else {
                    0
                };
                hide(&mut visible, &mut wasted, &name, false);
                content[index] += size;
                visible.insert(name, (index, size));
            }
        }
    }
    let mut steps = image
        .config
        .history
        .iter()
        .filter(|h| !h.empty_layer)
        .map(|h| {
            h.created_by
                .clone()
                .or(h.comment.clone())
                .unwrap_or_default()
        });
    Ok(content
        .into_iter()
        .zip(wasted)
        .map(|(content, wasted)| LayerCost {
            content,
            wasted,
            created_by: steps.next().unwrap_or_default(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overwritten_deleted_and_opaque_paths_are_charged_to_their_layers() {
        let mut visible = Visible::new();
        let mut wasted = vec![0u64; 3];
        visible.insert("a/x".into(), (0, 10));
        visible.insert("a/y".into(), (0, 5));
        visible.insert("ab".into(), (0, 7));
        visible.insert("b".into(), (1, 3));
        hide(&mut visible, &mut wasted, "a", false);
        assert_eq!(wasted, [15, 0, 0], "a/* goes, ab stays");
        assert!(visible.contains_key("ab"));
        hide(&mut visible, &mut wasted, "b", false);
        assert_eq!(wasted, [15, 3, 0]);
    }
}
