//! The `[markers]` section: which files of the repository are searched for markers, and its
//! reader.

use crate::common::settings::Table;

/// The `[markers]` section: which files are searched.
#[derive(Debug, Clone, PartialEq)]
pub struct MarkersConfig {
    /// Extra glob patterns searched besides `*.yaml`, `*.yml` and `Kustomization`.
    pub include: Vec<String>,
    /// Files larger than this are skipped and counted.
    pub max_file_size: u64,
}

impl MarkersConfig {
    /// Reads `[markers]` (empty when absent), reporting every problem.
    pub fn read(t: Table) -> MarkersConfig {
        let include = t
            .string_list("include")
            .map(|items| items.into_iter().map(|(s, _)| s).collect())
            .unwrap_or_default();
        let max_file_size = t.integer("max_file_size", 1024, 1 << 30).unwrap_or(1 << 20);
        t.finish();
        MarkersConfig {
            include,
            max_file_size,
        }
    }
}
