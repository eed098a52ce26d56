//! Composition: a skill calls library skills by name; this bundles the transitive
//! dependencies into one program and returns the call graph.
//!
//! Each dependency is wrapped in its own function scope and bound to a top-level `const`:
//!
//! ```js
//! const clamp = (() => { /* clamp's file */ ; return clamp; })();
//! ```
//!
//! so a dependency's helpers stay private, and nothing can rebind another skill's name
//! (assigning to a `const` throws; `globalThis.clamp = ...` does not shadow the lexical
//! binding). The skill being run comes last, unwrapped, so any of its top-level functions can
//! be an entry point; declaring a top-level name that a dependency also exports is a clash
//! and is rejected before anything runs.

use crate::sandbox::Capabilities;
use crate::skill::SkillSource;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Why a bundle could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    /// Skills call each other in a loop.
    #[error("dependency cycle: {}", .0.join(" -> "))]
    Cycle(Vec<String>),
    /// The chain of skills calling skills is longer than allowed.
    #[error("composition depth {depth} exceeds the limit of {limit} (chain: {})", .chain.join(" -> "))]
    TooDeep {
        /// The depth reached.
        depth: u32,
        /// The limit.
        limit: u32,
        /// The chain that went too deep.
        chain: Vec<String>,
    },
    /// The skill declares a top-level name that a dependency in the bundle exports.
    #[error(
        "name clash: '{name}' is declared by '{skill}' and is also the library skill it would call; rename one of them"
    )]
    NameClash {
        /// The clashing name.
        name: String,
        /// The skill that declares it.
        skill: String,
    },
    /// A skill's code calls a host function its own header does not declare.
    #[error(
        "'{skill}' calls host function '{capability}' but does not declare it: add \
         `@capability {capability}` to its JSDoc (a skill never borrows the grant of a skill that calls it)"
    )]
    UndeclaredCapability {
        /// The skill.
        skill: String,
        /// The host function it calls.
        capability: String,
    },
    /// A skill uses `host` other than in `host.call("name", ...)`, which cannot be checked.
    #[error(
        "'{skill}' uses `host` other than in `host.call(\"name\", ...)` (a computed name or an \
         alias): call each host function by its name as a string literal, so that its \
         capability can be checked"
    )]
    ComputedHostCall {
        /// The skill.
        skill: String,
    },
    /// A dependency cannot run in this runtime (e.g. a Minecraft skill).
    #[error("'{name}' needs the '{environment}' environment and cannot run here")]
    NotRunnable {
        /// The skill.
        name: String,
        /// The environment it needs.
        environment: String,
    },
}

/// One edge of the call graph: `caller` calls `callee`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CallEdge {
    /// The calling skill.
    pub caller: String,
    /// The skill it calls.
    pub callee: String,
}

/// A program ready for the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    /// The program text.
    pub source: String,
    /// The root skill's name.
    pub root: String,
    /// Dependencies in the order they are defined (callees before callers).
    pub dependencies: Vec<String>,
    /// Every call between skills in the bundle.
    pub call_graph: Vec<CallEdge>,
    /// What the bundle runs with: exactly the capabilities its skills declare (the root's
    /// and every dependency's; each skill's own host calls are among its own).
    #[serde(default)]
    pub capabilities: Capabilities,
}

impl Bundle {
    /// A program of its own, called as `root`: no library skills, no capabilities (a
    /// model's direct answer, a suite's reference solution, a probe).
    pub fn standalone(root: &str, source: String) -> Bundle {
        Bundle {
            source,
            root: root.to_string(),
            dependencies: Vec::new(),
            call_graph: Vec::new(),
            capabilities: Capabilities::default(),
        }
    }
}

/// Bundles `root` with the library skills it calls, transitively. `lookup` resolves a name to
/// a library skill (names it does not know are ordinary globals such as `Math`).
pub fn bundle<'a>(
    root: &'a SkillSource,
    lookup: impl Fn(&str) -> Option<&'a SkillSource>,
    max_depth: u32,
) -> Result<Bundle, ComposeError> {
    let mut state = Walk {
        lookup: &lookup,
        order: Vec::new(),
        done: BTreeSet::new(),
        edges: BTreeSet::new(),
        path: vec![root.name.clone()],
        max_depth,
    };
    state.visit_callees(root, 1)?;

    for name in &state.order {
        if root.declared.contains(name) {
            return Err(ComposeError::NameClash {
                name: name.clone(),
                skill: root.name.clone(),
            });
        }
    }
    let mut source = String::new();
    let mut capabilities = BTreeSet::new();
    for name in &state.order {
        let dep = lookup(name).expect("resolved during the walk");
        check_host_calls(dep)?;
        capabilities.extend(dep.capabilities.iter());
        source.push_str(&format!(
            "const {name} = (() => {{\n{}\n;return {name};\n}})();\n",
            dep.code
        ));
    }
    check_host_calls(root)?;
    capabilities.extend(root.capabilities.iter());
    source.push_str(&root.code);
    source.push('\n');
    Ok(Bundle {
        source,
        root: root.name.clone(),
        dependencies: state.order,
        call_graph: state.edges.into_iter().collect(),
        capabilities: capabilities.into_iter().collect(),
    })
}

/// Every host function `skill`'s own code calls must be among its own capabilities: a skill
/// never uses a grant that only a skill calling it declared.
fn check_host_calls(skill: &SkillSource) -> Result<(), ComposeError> {
    if skill.computed_host_call {
        return Err(ComposeError::ComputedHostCall {
            skill: skill.name.clone(),
        });
    }
    match skill
        .host_calls
        .iter()
        .find(|name| !skill.capabilities.allows_host_call(name))
    {
        Some(name) => Err(ComposeError::UndeclaredCapability {
            skill: skill.name.clone(),
            capability: name.clone(),
        }),
        None => Ok(()),
    }
}

struct Walk<'l, 'a, F: Fn(&str) -> Option<&'a SkillSource>> {
    lookup: &'l F,
    order: Vec<String>,
    done: BTreeSet<String>,
    edges: BTreeSet<CallEdge>,
    path: Vec<String>,
    max_depth: u32,
}

impl<'a, F: Fn(&str) -> Option<&'a SkillSource>> Walk<'_, 'a, F> {
    fn visit_callees(&mut self, skill: &SkillSource, depth: u32) -> Result<(), ComposeError> {
        let callees: BTreeMap<&str, &SkillSource> = skill
            .references
            .iter()
            .filter(|name| **name != skill.name)
            .filter_map(|name| (self.lookup)(name).map(|dep| (name.as_str(), dep)))
            .collect();
        for (name, dep) in callees {
            self.edges.insert(CallEdge {
                caller: skill.name.clone(),
                callee: name.to_string(),
            });
            if let Some(start) = self.path.iter().position(|p| p == name) {
                let mut cycle = self.path[start..].to_vec();
                cycle.push(name.to_string());
                return Err(ComposeError::Cycle(cycle));
            }
            if self.done.contains(name) {
                continue;
            }
            if depth > self.max_depth {
                let mut chain = self.path.clone();
                chain.push(name.to_string());
                return Err(ComposeError::TooDeep {
                    depth,
                    limit: self.max_depth,
                    chain,
                });
            }
            if !dep.is_runnable_here() {
                return Err(ComposeError::NotRunnable {
                    name: name.to_string(),
                    environment: dep.environment.clone(),
                });
            }
            self.path.push(name.to_string());
            self.visit_callees(dep, depth + 1)?;
            self.path.pop();
            self.done.insert(name.to_string());
            self.order.push(name.to_string());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn library(files: &[&str]) -> HashMap<String, SkillSource> {
        files
            .iter()
            .map(|code| {
                let skill = SkillSource::parse(code, None).unwrap();
                (skill.name.clone(), skill)
            })
            .collect()
    }

    #[test]
    fn bundles_transitive_dependencies_callees_first() {
        let lib = library(&[
            "function square(x) { return x * x }",
            "function sumOfSquares(xs) { return xs.reduce((s, x) => s + square(x), 0) }",
        ]);
        let root = SkillSource::parse(
            "function norm(xs) { return Math.sqrt(sumOfSquares(xs)) }",
            None,
        )
        .unwrap();
        let bundle = bundle(&root, |n| lib.get(n), 8).unwrap();
        assert_eq!(bundle.dependencies, ["square", "sumOfSquares"]);
        let edges: Vec<_> = bundle
            .call_graph
            .iter()
            .map(|e| (e.caller.as_str(), e.callee.as_str()))
            .collect();
        assert_eq!(
            edges,
            [("norm", "sumOfSquares"), ("sumOfSquares", "square")]
        );
        assert!(
            bundle.source.find("const square").unwrap()
                < bundle.source.find("const sumOfSquares").unwrap()
        );
        assert!(
            bundle
                .source
                .ends_with("function norm(xs) { return Math.sqrt(sumOfSquares(xs)) }\n")
        );
    }

    #[test]
    fn a_dependency_cannot_borrow_its_callers_capability() {
        let borrower =
            "/**\n * Reads a key.\n */\nfunction readKey(k) { return host.call('kv.get', {k}) }";
        let caller = "/**\n * Uses readKey.\n * @capability kv.get\n */\nfunction top(k) { return readKey(k) }";
        let lib = library(&[borrower]);
        let root = SkillSource::parse(caller, None).unwrap();
        assert_eq!(
            bundle(&root, |n| lib.get(n), 8),
            Err(ComposeError::UndeclaredCapability {
                skill: "readKey".into(),
                capability: "kv.get".into(),
            })
        );

        // Declared by the dependency: the bundle runs with exactly what its skills declare.
        let declared =
            borrower.replace(" * Reads a key.", " * Reads a key.\n * @capability kv.get");
        let lib = library(&[declared.as_str()]);
        let plain = SkillSource::parse("function top(k) { return readKey(k) }", None).unwrap();
        let bundled = bundle(&plain, |n| lib.get(n), 8).unwrap();
        assert_eq!(bundled.capabilities, Capabilities::none().grant("kv.get"));

        let computed = SkillSource::parse("function f(n) { return host.call(n) }", None).unwrap();
        assert!(matches!(
            bundle(&computed, |_| None, 8),
            Err(ComposeError::ComputedHostCall { .. })
        ));
    }

    #[test]
    fn rejects_cycles_depth_and_clashes() {
        let lib = library(&["function a() { return b() }", "function b() { return a() }"]);
        let root = SkillSource::parse("function top() { return a() }", None).unwrap();
        assert!(
            matches!(bundle(&root, |n| lib.get(n), 8), Err(ComposeError::Cycle(c)) if c == ["a", "b", "a"])
        );

        let lib = library(&[
            "function c1() { return 1 }",
            "function c2() { return c1() }",
            "function c3() { return c2() }",
        ]);
        let root = SkillSource::parse("function top() { return c3() }", None).unwrap();
        assert!(bundle(&root, |n| lib.get(n), 3).is_ok());
        assert!(matches!(
            bundle(&root, |n| lib.get(n), 2),
            Err(ComposeError::TooDeep { .. })
        ));

        let lib = library(&[
            "function helper() { return 1 }",
            "function uses() { return helper() }",
        ]);
        let root = SkillSource::parse(
            "function helper() { return 2 }\nfunction top() { return uses() + helper() }",
            Some("top"),
        )
        .unwrap();
        assert!(
            matches!(bundle(&root, |n| lib.get(n), 8), Err(ComposeError::NameClash { name, .. }) if name == "helper")
        );
    }
}
