//! Resolving the library skills a skill calls, by name, within its namespace.

use std::collections::HashMap;

use super::{Library, LibraryError, Result, check_capabilities, parse_stored};
use crate::compose::{self, Bundle};
use crate::sandbox::Capabilities;
use crate::skill::SkillSource;
use crate::store::{SkillRef, SkillStatus, StoreError};

/// The library skills reachable from one skill, with the versions they resolved to.
pub(super) struct Resolved {
    sources: HashMap<String, SkillSource>,
    refs: HashMap<String, SkillRef>,
}

impl Resolved {
    /// Bundles `root` with the resolved skills; every skill in the bundle may declare only
    /// capabilities `allowed` (the operator's policy) covers.
    pub(super) fn bundle(
        &self,
        root: &SkillSource,
        max_depth: u32,
        allowed: &Capabilities,
    ) -> Result<Bundle> {
        let bundle =
            compose::bundle(root, |name| self.sources.get(name), max_depth).map_err(|source| {
                LibraryError::Compose {
                    name: root.name.clone(),
                    source,
                }
            })?;
        check_capabilities(allowed, root)?;
        for name in &bundle.dependencies {
            check_capabilities(allowed, &self.sources[name])?;
        }
        Ok(bundle)
    }

    /// The stored versions the bundle's root calls directly (overrides have none).
    pub(super) fn direct_calls(&self, bundle: &Bundle) -> Vec<SkillRef> {
        bundle
            .call_graph
            .iter()
            .filter(|edge| edge.caller == bundle.root)
            .filter_map(|edge| self.refs.get(&edge.callee).cloned())
            .collect()
    }
}

impl Library {
    /// Finds, transitively, the library skills `root` references: a free name that is a skill
    /// of `namespace` (or in `overrides`, which win) is a call; any other name is an ordinary
    /// global. Quarantined skills cannot be called.
    pub(super) async fn resolve(
        &self,
        root: &SkillSource,
        namespace: &str,
        overrides: &HashMap<String, SkillSource>,
    ) -> Result<Resolved> {
        let mut resolved = Resolved {
            sources: HashMap::new(),
            refs: HashMap::new(),
        };
        let mut queue: Vec<(String, String)> = root
            .references
            .iter()
            .map(|name| (root.name.clone(), name.clone()))
            .collect();
        let mut looked_up = std::collections::HashSet::new();
        while let Some((caller, name)) = queue.pop() {
            if name == root.name || !looked_up.insert(name.clone()) {
                continue;
            }
            let source = if let Some(source) = overrides.get(&name) {
                source.clone()
            } else {
                let stored = match self.store.get(namespace, &name).await {
                    Ok(stored) => stored,
                    Err(StoreError::NotFound(_)) => continue,
                    Err(e) => return Err(e.into()),
                };
                if stored.record.status == SkillStatus::Quarantined {
                    return Err(LibraryError::Quarantined {
                        name: caller,
                        dependency: name,
                    });
                }
                resolved.refs.insert(
                    name.clone(),
                    SkillRef {
                        skill_id: stored.record.id,
                        namespace: stored.record.namespace.clone(),
                        name: name.clone(),
                        version_id: stored.version.id,
                        version: stored.version.version,
                    },
                );
                parse_stored(&stored)?
            };
            queue.extend(
                source
                    .references
                    .iter()
                    .map(|callee| (name.clone(), callee.clone())),
            );
            resolved.sources.insert(name, source);
        }
        Ok(resolved)
    }
}
