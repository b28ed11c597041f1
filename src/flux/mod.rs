//! Flux's image automation objects (ImageRepository, ImagePolicy, ImageUpdateAutomation,
//! API versions v1beta2 and v1) read from a fleet repository's YAML files, each value with its place.
//!
//! Reading is pure: files in, objects and located problems out. Fields Baton does not use are
//! reported by name, as an error when ignoring them would change what is written, else as a note.

mod fields;
mod objects;
mod selector;
mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::policy::{Rule, TagFilter};

pub use fields::parse_go_duration;
pub use objects::repo_path;
pub use selector::{Operator, Requirement, Selector};

/// The API group of Flux's image automation objects.
pub const API_GROUP: &str = "image.toolkit.fluxcd.io";

/// The API versions read; older ones are reported with the version to move to.
pub const API_VERSIONS: &[&str] = &["v1beta2", "v1"];

/// Where a value was written: file (relative to the repository root), 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Place {
    /// The file, relative to the repository root.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// How serious a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The rules cannot be used as written.
    Error,
    /// A field Baton reads but does not act on; the rules still apply.
    Note,
}

/// One problem in the objects, with its place and the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Error or note.
    pub severity: Severity,
    /// Where the field was written.
    pub place: Place,
    /// The field's path inside its object (`spec.policy.semver.range`); empty for the file.
    pub field: String,
    /// What is wrong, naming the value and what to do.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let note = match self.severity {
            Severity::Error => "",
            Severity::Note => "note: ",
        };
        if self.field.is_empty() {
            write!(f, "{}: {note}{}", self.place, self.message)
        } else {
            write!(f, "{}: {note}{}: {}", self.place, self.field, self.message)
        }
    }
}

/// A namespaced object name; markers write it `NAMESPACE:NAME`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    /// `metadata.namespace`, `default` when not written.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.namespace, self.name)
    }
}

/// An `ImageRepository`: which image is scanned, and how.
#[derive(Debug, Clone)]
pub struct ImageRepository {
    /// Namespace and name.
    pub id: ObjectRef,
    /// Where the object starts.
    pub place: Place,
    /// `spec.image` as written.
    pub image: String,
    /// Where `spec.image` was written.
    pub image_place: Place,
    /// `spec.interval`.
    pub interval: Duration,
    /// Where `spec.interval` was written.
    pub interval_place: Place,
    /// `spec.timeout`, when written.
    pub timeout: Option<Duration>,
    /// `spec.exclusionList` with places; `None` keeps the default (`^.*\.sig$`).
    pub exclusion_list: Option<Vec<(String, Place)>>,
    /// `spec.secretRef.name`: the cluster's credentials, mapped to the host's by registry host.
    pub secret_ref: Option<(String, Place)>,
    /// `spec.insecure`: plain HTTP to the registry.
    pub insecure: Option<Place>,
    /// `spec.suspend`.
    pub suspend: bool,
}

/// `spec.digestReflectionPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestReflection {
    /// No digest (Flux's default).
    Never,
    /// The digest is resolved when the tag changes.
    IfNotPresent,
    /// The digest is resolved every time.
    Always,
}

/// An `ImagePolicy`: how a tag is chosen for one repository.
#[derive(Debug, Clone)]
pub struct ImagePolicy {
    /// Namespace and name.
    pub id: ObjectRef,
    /// Where the object starts.
    pub place: Place,
    /// `metadata.labels`, for automations' `policySelector`.
    pub labels: BTreeMap<String, String>,
    /// `spec.imageRepositoryRef` (namespace defaults to the policy's).
    pub repository: ObjectRef,
    /// Where `spec.imageRepositoryRef` was written.
    pub repository_place: Place,
    /// `spec.policy`.
    pub rule: Rule,
    /// `spec.filterTags`.
    pub filter: Option<TagFilter>,
    /// `spec.digestReflectionPolicy`.
    pub digest: DigestReflection,
    /// `spec.suspend`.
    pub suspend: bool,
}

/// An `ImageUpdateAutomation`: which files its namespace's policies edit, and where commits go.
#[derive(Debug, Clone)]
pub struct ImageUpdateAutomation {
    /// Namespace and name.
    pub id: ObjectRef,
    /// Where the object starts.
    pub place: Place,
    /// `spec.git.checkout.ref.branch`.
    pub checkout_branch: Option<(String, Place)>,
    /// `spec.git.commit.author.name`.
    pub author_name: Option<String>,
    /// `spec.git.commit.author.email`.
    pub author_email: Option<String>,
    /// `spec.git.push.branch`.
    pub push_branch: Option<(String, Place)>,
    /// `spec.update.path`, relative to the repository root (empty for the root).
    pub path: PathBuf,
    /// Where `spec.update.path` was written (the object, when it was not).
    pub path_place: Place,
    /// `spec.policySelector`; `None` selects every policy of the namespace.
    pub selector: Option<Selector>,
    /// `spec.suspend`.
    pub suspend: bool,
}

/// Every object found, in file order.
#[derive(Debug, Clone, Default)]
pub struct Objects {
    /// `ImageRepository` objects.
    pub repositories: Vec<ImageRepository>,
    /// `ImagePolicy` objects.
    pub policies: Vec<ImagePolicy>,
    /// `ImageUpdateAutomation` objects.
    pub automations: Vec<ImageUpdateAutomation>,
}

impl Objects {
    /// The repository a policy refers to.
    pub fn repository(&self, id: &ObjectRef) -> Option<&ImageRepository> {
        self.repositories.iter().find(|r| &r.id == id)
    }

    /// The policies an automation applies: those of its namespace its selector accepts.
    pub fn policies_of<'a>(
        &'a self,
        automation: &'a ImageUpdateAutomation,
    ) -> impl Iterator<Item = &'a ImagePolicy> + 'a {
        self.policies.iter().filter(move |p| {
            p.id.namespace == automation.id.namespace
                && automation
                    .selector
                    .as_ref()
                    .is_none_or(|s| s.matches(&p.labels))
        })
    }
}

/// Whether a file is read for objects: `*.yaml` and `*.yml`, as Flux's kustomize-controller
/// reads them.
pub fn is_object_file(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e == "yaml" || e == "yml")
}

/// Reads the objects from `files` (path relative to the repository root, text) and checks
/// the references between them. Documents of other kinds are skipped; a file that does not
/// parse is reported only when it mentions the API group (other YAML is not Baton's to judge).
pub fn read(files: &[(PathBuf, String)]) -> (Objects, Vec<Problem>) {
    let mut objects = Objects::default();
    let mut problems = Vec::new();
    for (path, text) in files {
        objects::read_file(path, text, &mut objects, &mut problems);
    }
    objects::check_references(&mut objects, &mut problems);
    problems.sort_by(|a, b| {
        (a.severity, &a.place.file, a.place.line).cmp(&(b.severity, &b.place.file, b.place.line))
    });
    (objects, problems)
}

#[cfg(test)]
mod tests;
