//! A start-up snapshot of the guest, made with wasmtime-wizer.
//!
//! Most of a trivial call used to be QuickJS creating its runtime and context. The guest
//! exports `wizer.initialize`, which does exactly that and nothing call-specific (the random
//! seed and `performance`'s time origin are set per call). Here the guest is instrumented,
//! instantiated with frozen clocks and fixed randomness, initialised, and its memory and
//! globals are written back into a new module whose `_start` skips the set-up. Every call
//! still gets a fresh instance of that module: the snapshot is the starting state, shared by
//! copy-on-write, never a live instance. The snapshot is made once and then comes from the
//! compiled-module cache with everything else.

use super::SandboxError;
use super::guest::GUEST_WASM;
use super::host::{self, HostState};
use wasmtime::{Engine, Instance, Module, Store, Val};
use wasmtime_wizer::{InstanceState, SnapshotVal, ValType, Wizer};

/// The guest's pre-initialisation export.
const INIT_FUNCTION: &str = "wizer.initialize";

/// Returns the pre-initialised guest module as wasm bytes.
pub(super) fn snapshot_guest(engine: &Engine) -> Result<Vec<u8>, SandboxError> {
    let fail = |e: wasmtime::Error| SandboxError::Module(format!("start-up snapshot: {e:#}"));
    let mut wizer = Wizer::new();
    wizer.init_func(INIT_FUNCTION);
    let (context, instrumented) = wizer.instrument(GUEST_WASM).map_err(fail)?;
    let module = Module::new(engine, &instrumented).map_err(fail)?;
    let pre = host::instantiate_pre(engine, &module)?;
    let (mut store, instance) = host::run_initializer(engine, &pre, INIT_FUNCTION)?;
    let mut state = Initialised {
        store: &mut store,
        instance,
    };
    futures::executor::block_on(wizer.snapshot(&context, &mut state)).map_err(fail)
}

/// The initialised instance, as wizer reads it.
struct Initialised<'a> {
    store: &'a mut Store<HostState>,
    instance: Instance,
}

impl InstanceState for Initialised<'_> {
    async fn global_get(&mut self, name: &str, _type_hint: ValType) -> SnapshotVal {
        let global = self
            .instance
            .get_global(&mut *self.store, name)
            .expect("wizer asks only for globals its instrumentation exported");
        match global.get(&mut *self.store) {
            Val::I32(x) => SnapshotVal::I32(x),
            Val::I64(x) => SnapshotVal::I64(x),
            Val::F32(x) => SnapshotVal::F32(x),
            Val::F64(x) => SnapshotVal::F64(x),
            Val::V128(x) => SnapshotVal::V128(x.as_u128()),
            other => panic!("the guest has a global of an unsupported type: {other:?}"),
        }
    }

    async fn memory_contents(&mut self, name: &str, contents: impl FnOnce(&[u8]) + Send) {
        let memory = self
            .instance
            .get_memory(&mut *self.store, name)
            .expect("wizer asks only for memories its instrumentation exported");
        contents(memory.data(&*self.store));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_snapshot_is_made_and_drops_the_initializer() {
        let engine = super::super::build_engine(2).unwrap();
        let wasm = snapshot_guest(&engine).expect("the guest snapshots");
        let module = Module::new(&engine, &wasm).unwrap();
        assert!(module.get_export(INIT_FUNCTION).is_none());
        assert!(module.get_export("_start").is_some());
        // The snapshot holds the initialised heap, so its data is larger than the plain guest's.
        assert_ne!(wasm.as_slice(), GUEST_WASM);
    }
}
