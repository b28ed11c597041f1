//! The three object kinds, field by field, and the references between them.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

use super::fields::{Fields, Sink};
use super::yaml::{self, Node};
use super::{
    API_GROUP, API_VERSIONS, DigestReflection, ImagePolicy, ImageRepository, ImageUpdateAutomation,
    ObjectRef, Objects, Place, Problem, Severity, selector,
};
use crate::policy::config::rules_given;
use crate::policy::{GoRegex, Order, Rule, SemverRange, TagFilter};
use crate::reference::ImageName;

const KINDS: &[&str] = &["ImageRepository", "ImagePolicy", "ImageUpdateAutomation"];

/// Reads every image automation object of one file into `objects`.
pub(super) fn read_file(path: &Path, text: &str, objects: &mut Objects, out: &mut Vec<Problem>) {
    let sink = Sink {
        file: path,
        problems: RefCell::new(Vec::new()),
    };
    match yaml::parse(text) {
        Ok(docs) => {
            for doc in &docs {
                read_document(&sink, doc, objects);
            }
        }
        Err(err) if text.contains(API_GROUP) => sink.error(
            err.pos,
            "",
            format!(
                "does not parse as YAML ({}), so its image automation objects cannot be read: fix the file",
                err.message
            ),
        ),
        Err(_) => {}
    }
    out.extend(sink.problems.into_inner());
}

fn read_document(sink: &Sink, doc: &Node, objects: &mut Objects) {
    let Some(api_version) = doc.get("apiVersion").and_then(Node::as_str) else {
        return;
    };
    let Some(version) = api_version
        .strip_prefix(API_GROUP)
        .and_then(|v| v.strip_prefix('/'))
    else {
        return;
    };
    let Some(top) = Fields::new(sink, "", doc) else {
        return;
    };
    top.raw("apiVersion");
    top.raw("status");
    let kind = top.string("kind").map(|(k, _)| k).unwrap_or_default();
    if !KINDS.contains(&kind.as_str()) {
        top.error(
            "kind",
            format!(
                "{kind:?} is not an image automation kind Baton reads: {}",
                KINDS.join(", ")
            ),
        );
        return;
    }
    if !API_VERSIONS.contains(&version) {
        top.error(
            "apiVersion",
            format!(
                "{api_version} is not supported: Baton reads {API_GROUP}/v1beta2 and {API_GROUP}/v1; upgrade the object (flux migrate) first"
            ),
        );
        return;
    }
    let Some((id, labels)) = read_metadata(&top) else {
        top.finish();
        return;
    };
    let place = sink.place(doc.pos);
    let Some(spec) = top.mapping("spec") else {
        if doc.get("spec").is_none_or(Node::is_null) {
            sink.error(doc.pos, "spec", "required field is missing");
        }
        top.finish();
        return;
    };
    match kind.as_str() {
        "ImageRepository" => {
            if let Some(r) = read_repository(&spec, id, place) {
                objects.repositories.push(r);
            }
        }
        "ImagePolicy" => {
            if let Some(p) = read_policy(&spec, id, place, labels) {
                objects.policies.push(p);
            }
        }
        _ => {
            if let Some(a) = read_automation(&spec, id, place) {
                objects.automations.push(a);
            }
        }
    }
    spec.finish();
    top.finish();
}

/// `metadata`: name, namespace (`default` when absent) and labels; other keys are Kubernetes'.
fn read_metadata(top: &Fields) -> Option<(ObjectRef, BTreeMap<String, String>)> {
    let Some(meta) = top.mapping("metadata") else {
        if top.node.get("metadata").is_none() {
            top.error("metadata", "required field is missing: give metadata.name");
        }
        return None;
    };
    let name = meta.required_string("name", "give the object a name");
    let namespace = meta
        .string("namespace")
        .map_or_else(|| "default".to_string(), |(n, _)| n);
    let labels = meta.string_map("labels").into_iter().collect();
    Some((
        ObjectRef {
            namespace,
            name: name?.0,
        },
        labels,
    ))
}

fn read_repository(spec: &Fields, id: ObjectRef, place: Place) -> Option<ImageRepository> {
    let image = spec.required_string(
        "image",
        "name the image to scan, e.g. image: ghcr.io/example/app",
    );
    if let Some((text, _)) = &image
        && let Err(err) = ImageName::parse(text)
    {
        spec.error("image", format!("{text:?}: {err}"));
    }
    let place_of = |key: &str| {
        spec.sink
            .place(spec.node.get(key).map_or(spec.node.pos, |n| n.pos))
    };
    let image_place = place_of("image");
    let interval_place = place_of("interval");
    let interval = match spec.node.get("interval") {
        Some(_) => spec.duration("interval"),
        None => {
            spec.required_string("interval", "say how often to scan, e.g. interval: 5m");
            None
        }
    };
    let timeout = spec.duration("timeout");
    let exclusion_list = spec.string_list("exclusionList").map(|items| {
        items
            .into_iter()
            .filter_map(|(pattern, pos)| match GoRegex::new(&pattern) {
                Ok(_) => Some((pattern, spec.sink.place(pos))),
                Err(err) => {
                    spec.sink.error(
                        pos,
                        "spec.exclusionList",
                        format!("{pattern:?} is not a valid regular expression: {err}"),
                    );
                    None
                }
            })
            .collect::<Vec<_>>()
    });
    let secret_ref = spec.mapping("secretRef").and_then(|s| {
        let name = s.required_string("name", "name the Secret");
        s.finish();
        name.map(|(n, pos)| (n, spec.sink.place(pos)))
    });
    let insecure = match spec.bool("insecure") {
        Some(true) => spec.node.get("insecure").map(|n| spec.sink.place(n.pos)),
        _ => None,
    };
    if let Some((provider, _)) = spec.string("provider")
        && provider != "generic"
    {
        spec.sink.push(
            Severity::Note,
            spec.node.get("provider").map_or(spec.node.pos, |n| n.pos),
            "spec.provider",
            format!(
                "not used by Baton: {provider:?} cloud credentials are not fetched; the host's [registries.\"HOST\"] settings (docker_config, credential helpers) authenticate"
            ),
        );
    }
    for (key, why) in [
        (
            "serviceAccountName",
            "pull secrets come from the host's [registries.\"HOST\"] settings",
        ),
        (
            "certSecretRef",
            "TLS settings come from the host's [registries.\"HOST\"] ca_file",
        ),
        (
            "proxySecretRef",
            "the host's HTTPS_PROXY environment applies",
        ),
        (
            "accessFrom",
            "Baton has no cross-namespace access control; every policy in the repository may use every ImageRepository",
        ),
    ] {
        spec.unsupported(key, Severity::Note, why);
    }
    let suspend = spec.bool("suspend").unwrap_or(false);
    Some(ImageRepository {
        id,
        place,
        image: image?.0.trim().to_string(),
        image_place,
        interval: interval?,
        interval_place,
        timeout,
        exclusion_list,
        secret_ref,
        insecure,
        suspend,
    })
}

fn read_policy(
    spec: &Fields,
    id: ObjectRef,
    place: Place,
    labels: BTreeMap<String, String>,
) -> Option<ImagePolicy> {
    let repository = match spec.mapping("imageRepositoryRef") {
        Some(r) => {
            let name = r.required_string("name", "name the ImageRepository");
            let namespace = r
                .string("namespace")
                .map_or_else(|| id.namespace.clone(), |(n, _)| n);
            r.finish();
            name.map(|(name, _)| ObjectRef { namespace, name })
        }
        None => {
            if spec.node.get("imageRepositoryRef").is_none() {
                spec.required_string("imageRepositoryRef", "name the ImageRepository");
            }
            None
        }
    };
    let repository_place = spec.sink.place(
        spec.node
            .get("imageRepositoryRef")
            .map_or(spec.node.pos, |n| n.pos),
    );
    let rule = match spec.mapping("policy") {
        Some(p) => read_rule(&p),
        None => {
            if spec.node.get("policy").is_none() {
                spec.required_string(
                    "policy",
                    "give one of policy.semver.range, policy.alphabetical or policy.numerical",
                );
            }
            None
        }
    };
    let filter = match spec.mapping("filterTags") {
        Some(f) => {
            let pattern = f.string("pattern").map(|(p, _)| p).unwrap_or_default();
            let extract = f.string("extract").map(|(e, _)| e);
            let built = match TagFilter::new(&pattern, extract.as_deref()) {
                Ok(filter) => Some(Some(filter)),
                Err(err) => {
                    f.error("pattern", err.to_string());
                    None
                }
            };
            f.finish();
            built
        }
        None => Some(None),
    };
    let digest = match spec.string("digestReflectionPolicy") {
        None => Some(DigestReflection::Never),
        Some((text, _)) => {
            match text.as_str() {
                "Never" => Some(DigestReflection::Never),
                "IfNotPresent" => Some(DigestReflection::IfNotPresent),
                "Always" => Some(DigestReflection::Always),
                other => {
                    spec.error(
                    "digestReflectionPolicy",
                    format!("{other:?} is not a reflection policy: use Never, IfNotPresent or Always"),
                );
                    None
                }
            }
        }
    };
    spec.unsupported(
        "interval",
        Severity::Note,
        "with digestReflectionPolicy Always Baton resolves the digest on every pass",
    );
    let suspend = spec.bool("suspend").unwrap_or(false);
    Some(ImagePolicy {
        id,
        place,
        labels,
        repository: repository?,
        repository_place,
        rule: rule?,
        filter: filter?,
        digest: digest?,
        suspend,
    })
}

/// `spec.policy`: exactly one of `semver.range`, `alphabetical.order`, `numerical.order`.
fn read_rule(p: &Fields) -> Option<Rule> {
    let semver = p.mapping("semver");
    let alphabetical = p.mapping("alphabetical");
    let numerical = p.mapping("numerical");
    let given = rules_given(
        semver.is_some(),
        alphabetical.is_some(),
        numerical.is_some(),
    );
    if given.len() != 1 {
        let sets = if given.is_empty() {
            "none".to_string()
        } else {
            given.join(" and ")
        };
        p.sink.error(
            p.node.pos,
            &p.path,
            format!("give exactly one of semver, alphabetical, numerical; this one sets {sets}"),
        );
    }
    let order = |f: &Fields| -> Option<Order> {
        let order = match f.string("order") {
            None => Some(Order::Asc),
            Some((text, _)) if text == "asc" || text == "desc" => text.parse().ok(),
            Some((text, _)) => {
                f.error(
                    "order",
                    format!("{text:?} is not an order: use asc or desc"),
                );
                None
            }
        };
        f.finish();
        order
    };
    let rule = if let Some(s) = semver {
        let range = s.required_string("range", "give a range, e.g. range: 5.0.x");
        let rule = range.and_then(|(text, _)| match SemverRange::parse(&text) {
            Ok(range) => Some(Rule::Semver(range)),
            Err(err) => {
                s.error("range", err.to_string());
                None
            }
        });
        s.finish();
        rule
    } else if let Some(a) = alphabetical {
        order(&a).map(Rule::Alphabetical)
    } else if let Some(n) = numerical {
        order(&n).map(Rule::Numerical)
    } else {
        None
    };
    p.finish();
    if given.len() == 1 { rule } else { None }
}

fn read_automation(spec: &Fields, id: ObjectRef, place: Place) -> Option<ImageUpdateAutomation> {
    if let Some(source) = spec.mapping("sourceRef") {
        if let Some((kind, _)) = source.string("kind")
            && kind != "GitRepository"
        {
            source.error(
                "kind",
                format!("{kind:?}: Baton updates a Git repository only (GitRepository)"),
            );
        }
        // The host's [git] remote is the repository: the cluster-side reference is not used.
        for key in ["name", "namespace", "apiVersion"] {
            source.raw(key);
        }
        source.finish();
    }
    // How often: the host's [git] interval.
    spec.raw("interval");
    let mut checkout_branch = None;
    let mut author_name = None;
    let mut author_email = None;
    let mut push_branch = None;
    if let Some(git) = spec.mapping("git") {
        if let Some(checkout) = git.mapping("checkout") {
            if let Some(r) = checkout.mapping("ref") {
                checkout_branch = r.string("branch").map(|(b, pos)| (b, r.sink.place(pos)));
                for key in ["tag", "semver", "name", "commit"] {
                    r.unsupported(
                        key,
                        Severity::Error,
                        "Baton commits on a branch: give ref.branch (the host's [git] branch)",
                    );
                }
                r.finish();
            }
            checkout.finish();
        }
        if let Some(commit) = git.mapping("commit") {
            if let Some(author) = commit.mapping("author") {
                author_name = author.string("name").map(|(n, _)| n);
                author_email = author.string("email").map(|(e, _)| e);
                author.finish();
            }
            commit.unsupported(
                "messageTemplate",
                Severity::Note,
                "Baton writes its own subject and Baton-* trailers; the host's [git] commit_template replaces them",
            );
            commit.unsupported(
                "messageTemplateValues",
                Severity::Note,
                "the host's [git] commit_template is the only template",
            );
            commit.unsupported(
                "signingKey",
                Severity::Note,
                "commits are signed with the host's [git] signing_key",
            );
            commit.finish();
        }
        if let Some(push) = git.mapping("push") {
            push_branch = push
                .string("branch")
                .map(|(b, pos)| (b, push.sink.place(pos)));
            push.unsupported(
                "refspec",
                Severity::Error,
                "Baton pushes to a branch only: give push.branch",
            );
            push.unsupported("options", Severity::Note, "push options are not sent");
            push.finish();
        }
        git.finish();
    } else if spec.node.get("git").is_none() {
        spec.sink.error(
            spec.node.pos,
            "spec.git",
            "required field is missing: give git.commit.author.email",
        );
    }
    let mut path = Some(PathBuf::new());
    let mut path_place = place.clone();
    if let Some(update) = spec.mapping("update") {
        if let Some((strategy, _)) = update.string("strategy")
            && strategy != "Setters"
        {
            update.error(
                "strategy",
                format!("{strategy:?}: the only update strategy is Setters"),
            );
        }
        if let Some((text, pos)) = update.string("path") {
            path_place = update.sink.place(pos);
            path = match repo_path(&text) {
                Ok(p) => Some(p),
                Err(why) => {
                    update.error("path", format!("{text:?} {why}"));
                    None
                }
            };
        }
        update.finish();
    }
    let selector = spec.mapping("policySelector").map(|s| {
        let selector = selector::read(&s);
        s.finish();
        selector
    });
    let suspend = spec.bool("suspend").unwrap_or(false);
    Some(ImageUpdateAutomation {
        id,
        place,
        checkout_branch,
        author_name,
        author_email,
        push_branch,
        path: path?,
        path_place,
        selector,
        suspend,
    })
}

/// A path inside the repository, `./` and `.` dropped; absolute paths and `..` refused (the
/// reason completes a sentence naming the path).
pub fn repo_path(text: &str) -> Result<PathBuf, &'static str> {
    let path = Path::new(text.trim());
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => {
                return Err("leaves the repository with '..': write a path inside it");
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err("is absolute: write it relative to the repository root");
            }
        }
    }
    Ok(out)
}

/// Duplicates, dangling references and suspended objects.
pub(super) fn check_references(objects: &mut Objects, out: &mut Vec<Problem>) {
    let error = |place: &Place, field: &str, message: String| Problem {
        severity: Severity::Error,
        place: place.clone(),
        field: field.to_string(),
        message,
    };
    let note = |place: &Place, message: String| Problem {
        severity: Severity::Note,
        place: place.clone(),
        field: "spec.suspend".to_string(),
        message,
    };
    fn duplicates<'a>(
        kind: &str,
        items: impl Iterator<Item = (&'a ObjectRef, &'a Place)>,
        out: &mut Vec<Problem>,
    ) {
        let mut seen: BTreeMap<&ObjectRef, &Place> = BTreeMap::new();
        for (id, place) in items {
            if let Some(first) = seen.get(id) {
                out.push(Problem {
                    severity: Severity::Error,
                    place: place.clone(),
                    field: "metadata.name".to_string(),
                    message: format!(
                        "{kind} {id} is also defined at {first}: keep one (the cluster would apply only the last)"
                    ),
                });
            } else {
                seen.insert(id, place);
            }
        }
    }
    duplicates(
        "ImageRepository",
        objects.repositories.iter().map(|r| (&r.id, &r.place)),
        out,
    );
    duplicates(
        "ImagePolicy",
        objects.policies.iter().map(|p| (&p.id, &p.place)),
        out,
    );
    duplicates(
        "ImageUpdateAutomation",
        objects.automations.iter().map(|a| (&a.id, &a.place)),
        out,
    );
    let known: Vec<(ObjectRef, bool)> = objects
        .repositories
        .iter()
        .map(|r| (r.id.clone(), r.suspend))
        .collect();
    objects.policies.retain(|p| {
        match known.iter().find(|(id, _)| *id == p.repository) {
            None => {
                out.push(error(
                    &p.repository_place,
                    "spec.imageRepositoryRef",
                    format!(
                        "names ImageRepository {}, which is not in the repository: add it or fix the name",
                        p.repository
                    ),
                ));
                false
            }
            Some((_, true)) => {
                out.push(note(
                    &p.place,
                    format!(
                        "ImagePolicy {} is not applied: its ImageRepository {} is suspended",
                        p.id, p.repository
                    ),
                ));
                false
            }
            Some(_) if p.suspend => {
                out.push(note(
                    &p.place,
                    format!("ImagePolicy {} is suspended: it is not applied", p.id),
                ));
                false
            }
            Some(_) => true,
        }
    });
    objects.repositories.retain(|r| {
        if r.suspend {
            out.push(note(
                &r.place,
                format!("ImageRepository {} is suspended: it is not scanned", r.id),
            ));
        }
        !r.suspend
    });
    objects.automations.retain(|a| {
        if a.suspend {
            out.push(note(
                &a.place,
                format!(
                    "ImageUpdateAutomation {} is suspended: its path is not updated",
                    a.id
                ),
            ));
        }
        !a.suspend
    });
}
