use std::path::PathBuf;
use std::time::Duration;

use super::*;

fn files(list: &[(&str, &str)]) -> Vec<(PathBuf, String)> {
    list.iter()
        .map(|(p, t)| (PathBuf::from(p), t.to_string()))
        .collect()
}

fn errors(problems: &[Problem]) -> Vec<String> {
    problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(ToString::to_string)
        .collect()
}

const REGISTRY: &str = "---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImageRepository
metadata:
  name: podinfo
  namespace: flux-system
spec:
  image: ghcr.io/stefanprodan/podinfo
  interval: 1m0s
";

const POLICY: &str = "apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: podinfo
  namespace: flux-system
  labels:
    env: staging
spec:
  imageRepositoryRef:
    name: podinfo
  policy:
    semver:
      range: 5.0.x
";

const AUTOMATION: &str = "apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 30m
  sourceRef:
    kind: GitRepository
    name: flux-system
  git:
    checkout:
      ref:
        branch: main
    commit:
      author:
        email: fluxcdbot@users.noreply.github.com
        name: fluxcdbot
      messageTemplate: '{{range .Changed.Changes}}{{print .OldValue}} -> {{println .NewValue}}{{end}}'
    push:
      branch: main
  update:
    path: ./clusters/my-cluster
    strategy: Setters
";

#[test]
fn reads_the_image_update_guide_layout() {
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: podinfo\nspec:\n  template:\n    spec:\n      containers:\n        - name: podinfod\n          image: ghcr.io/stefanprodan/podinfo:5.0.0 # {\"$imagepolicy\": \"flux-system:podinfo\"}\n";
    let (objects, problems) = read(&files(&[
        ("clusters/my-cluster/podinfo-deployment.yaml", deployment),
        ("clusters/my-cluster/podinfo-registry.yaml", REGISTRY),
        ("clusters/my-cluster/podinfo-policy.yaml", POLICY),
        (
            "clusters/my-cluster/flux-system-automation.yaml",
            AUTOMATION,
        ),
        (
            "clusters/my-cluster/flux-system/kustomization.yaml",
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- gotk-components.yaml\n- gotk-sync.yaml\n",
        ),
    ]));
    assert_eq!(errors(&problems), Vec::<String>::new());
    // The message template is reported, by name and place, as not used.
    let notes: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(
        notes,
        vec![
            "clusters/my-cluster/flux-system-automation.yaml:19:24: note: spec.git.commit.messageTemplate: not used by Baton: Baton writes its own subject and Baton-* trailers; the host's [git] commit_template replaces them"
        ]
    );
    let repo = &objects.repositories[0];
    assert_eq!(repo.id.to_string(), "flux-system:podinfo");
    assert_eq!(repo.image, "ghcr.io/stefanprodan/podinfo");
    assert_eq!(repo.interval, Duration::from_secs(60));
    assert_eq!(
        repo.place.to_string(),
        "clusters/my-cluster/podinfo-registry.yaml:2:1"
    );
    let policy = &objects.policies[0];
    assert_eq!(policy.repository, repo.id);
    assert_eq!(policy.rule.to_string(), "semver 5.0.x");
    assert_eq!(policy.digest, DigestReflection::Never);
    let automation = &objects.automations[0];
    assert_eq!(automation.path, PathBuf::from("clusters/my-cluster"));
    assert_eq!(automation.checkout_branch.as_ref().unwrap().0, "main");
    assert_eq!(automation.push_branch.as_ref().unwrap().0, "main");
    assert_eq!(automation.author_name.as_deref(), Some("fluxcdbot"));
    assert_eq!(
        objects
            .policies_of(automation)
            .map(|p| p.id.to_string())
            .collect::<Vec<_>>(),
        vec!["flux-system:podinfo"]
    );
}

#[test]
fn reads_multi_document_files_and_every_policy_form() {
    let text = format!(
        "{REGISTRY}---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: by-build
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: podinfo
  filterTags:
    pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)'
    extract: '$ts'
  policy:
    numerical:
      order: asc
  digestReflectionPolicy: IfNotPresent
---
apiVersion: image.toolkit.fluxcd.io/v1beta2
kind: ImagePolicy
metadata:
  name: newest-name
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: podinfo
    namespace: flux-system
  policy:
    alphabetical:
      order: desc
  digestReflectionPolicy: Always
  interval: 5m
"
    );
    let (objects, problems) = read(&files(&[("all.yaml", &text)]));
    assert_eq!(errors(&problems), Vec::<String>::new());
    assert_eq!(objects.policies.len(), 2);
    let by_build = &objects.policies[0];
    assert_eq!(by_build.rule.to_string(), "numerical asc");
    assert_eq!(by_build.filter.as_ref().unwrap().extract(), Some("$ts"));
    assert_eq!(by_build.digest, DigestReflection::IfNotPresent);
    let newest = &objects.policies[1];
    assert_eq!(newest.rule.to_string(), "alphabetical desc");
    assert_eq!(newest.digest, DigestReflection::Always);
    assert_eq!(
        problems.iter().map(ToString::to_string).collect::<Vec<_>>(),
        vec![
            "all.yaml:40:13: note: spec.interval: not used by Baton: with digestReflectionPolicy Always Baton resolves the digest on every pass"
        ]
    );
}

#[test]
fn reports_unsupported_and_unknown_fields_by_name_and_line() {
    let text = "apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: app
spec:
  image: registry.example.com/app
  interval: 5m
  provider: aws
  serviceAccountName: puller
  exclusionList: ['^.*\\.sig$', '(unclosed']
  intervall: 1m
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: auto
spec:
  interval: 1m
  sourceRef:
    kind: Bucket
    name: x
  git:
    checkout:
      ref:
        tag: v1.0.0
    commit:
      author:
        email: a@b
    push:
      refspec: refs/heads/main:refs/heads/auto
  update:
    path: ../outside
    strategy: Other
";
    let (_, problems) = read(&files(&[("f.yaml", text)]));
    let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let expected = [
        "f.yaml:10:32: spec.exclusionList: \"(unclosed\" is not a valid regular expression",
        "f.yaml:11:3: spec.intervall: unknown field \"intervall\": did you mean \"interval\"?",
        "f.yaml:20:11: spec.sourceRef.kind: \"Bucket\": Baton updates a Git repository only (GitRepository)",
        "f.yaml:25:14: spec.git.checkout.ref.tag: not supported by Baton: Baton commits on a branch: give ref.branch (the host's [git] branch)",
        "f.yaml:30:16: spec.git.push.refspec: not supported by Baton: Baton pushes to a branch only: give push.branch",
        "f.yaml:32:11: spec.update.path: \"../outside\" leaves the repository with '..': write a path inside it",
        "f.yaml:33:15: spec.update.strategy: \"Other\": the only update strategy is Setters",
        "f.yaml:8:13: note: spec.provider: not used by Baton: \"aws\" cloud credentials are not fetched",
        "f.yaml:9:23: note: spec.serviceAccountName: not used by Baton: pull secrets come from the host's",
    ];
    assert_eq!(shown.len(), expected.len(), "{shown:#?}");
    for want in expected {
        assert!(
            shown.iter().any(|s| s.starts_with(want)),
            "missing {want:?} in {shown:#?}"
        );
    }
}

#[test]
fn refuses_old_versions_duplicates_and_dangling_references() {
    let old = "apiVersion: image.toolkit.fluxcd.io/v1beta1\nkind: ImagePolicy\nmetadata:\n  name: x\nspec: {}\n";
    let dangling = "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata:\n  name: lonely\nspec:\n  imageRepositoryRef:\n    name: nowhere\n  policy:\n    semver:\n      range: '>=1.0.0'\n";
    let (objects, problems) = read(&files(&[
        ("a.yaml", REGISTRY),
        ("b.yaml", REGISTRY),
        ("old.yaml", old),
        ("dangling.yaml", dangling),
    ]));
    let shown = errors(&problems);
    assert!(shown.iter().any(|s| s.starts_with("b.yaml:2:1: metadata.name: ImageRepository flux-system:podinfo is also defined at a.yaml:2:1")), "{shown:#?}");
    assert!(
        shown.iter().any(|s| s.starts_with(
            "old.yaml:1:13: apiVersion: image.toolkit.fluxcd.io/v1beta1 is not supported"
        )),
        "{shown:#?}"
    );
    assert!(
        shown.iter().any(|s| s.starts_with(
            "dangling.yaml:7:5: spec.imageRepositoryRef: names ImageRepository default:nowhere"
        )),
        "{shown:#?}"
    );
    assert!(objects.policies.is_empty());
}

#[test]
fn selects_policies_by_namespace_and_labels_and_skips_suspended_objects() {
    let other_ns = POLICY.replace("namespace: flux-system", "namespace: apps");
    let prod = POLICY
        .replace(
            "name: podinfo\n  namespace",
            "name: podinfo-prod\n  namespace",
        )
        .replace("env: staging", "env: production");
    let suspended = POLICY
        .replace("name: podinfo\n  namespace", "name: paused\n  namespace")
        .replace("spec:\n", "spec:\n  suspend: true\n");
    let automation = AUTOMATION.replace(
        "  update:\n",
        "  policySelector:\n    matchLabels:\n      env: staging\n  update:\n",
    );
    let apps_registry = REGISTRY.replace("namespace: flux-system", "namespace: apps");
    let (objects, problems) = read(&files(&[
        ("r.yaml", REGISTRY),
        ("r2.yaml", &apps_registry),
        ("p1.yaml", POLICY),
        ("p2.yaml", &other_ns),
        ("p3.yaml", &prod),
        ("p4.yaml", &suspended),
        ("a.yaml", &automation),
    ]));
    assert_eq!(errors(&problems), Vec::<String>::new());
    assert!(
        problems
            .iter()
            .any(|p| p.to_string() == "p4.yaml:1:1: note: spec.suspend: ImagePolicy flux-system:paused is suspended: it is not applied"),
        "{problems:#?}"
    );
    let selected: Vec<String> = objects
        .policies_of(&objects.automations[0])
        .map(|p| p.id.to_string())
        .collect();
    assert_eq!(selected, vec!["flux-system:podinfo"]);
}

#[test]
fn hostile_files_are_reported_not_trusted() {
    // A broken file that mentions the API group is an error; other broken YAML is not Baton's.
    let broken = "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: [\n";
    let helm = "{{ if .Values.x }}\nkey: : :\n";
    let (_, problems) = read(&files(&[("broken.yaml", broken), ("chart/t.yaml", helm)]));
    let shown = errors(&problems);
    assert_eq!(shown.len(), 1, "{shown:#?}");
    assert!(shown[0].starts_with("broken.yaml:"), "{shown:#?}");
    // Wrong types name the field; aliases are not expanded.
    let typed = "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\nmetadata:\n  name: a\nspec:\n  image: [x]\n  interval: 5\n  suspend: yes\n";
    let (objects, problems) = read(&files(&[("t.yaml", typed)]));
    let shown = errors(&problems);
    assert!(objects.repositories.is_empty());
    assert!(
        shown.contains(&"t.yaml:6:10: spec.image: expected a string, found a list".to_string()),
        "{shown:#?}"
    );
    assert!(shown.contains(&"t.yaml:7:13: spec.interval: \"5\" is not a duration: write e.g. \"1m\", \"5m30s\", \"1h\"".to_string()), "{shown:#?}");
    assert!(
        shown.contains(&"t.yaml:8:12: spec.suspend: expected true or false".to_string()),
        "{shown:#?}"
    );
    assert!(is_object_file(std::path::Path::new("a/b.yml")));
    assert!(!is_object_file(std::path::Path::new("a/Kustomization")));
}
