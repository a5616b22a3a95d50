//! The event-type catalogue: built-in types plus the registered custom ones,
//! cached in memory with their compiled schemas, and reloaded when a type is
//! not found (another node may have registered it).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use hookline_core::catalogue::builtin_event_types;
use hookline_core::EventType;
use hookline_store::{SharedStore, StoreResult};

/// Cached catalogue.
pub(crate) struct Catalogue {
    store: SharedStore,
    types: RwLock<Vec<EventType>>,
    /// Compiled schemas by type name, built with `types`.
    schemas: RwLock<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl Catalogue {
    /// Loads the catalogue from the store.
    pub(crate) async fn load(store: SharedStore) -> StoreResult<Self> {
        let catalogue = Catalogue {
            store,
            types: RwLock::new(Vec::new()),
            schemas: RwLock::new(HashMap::new()),
        };
        catalogue.reload().await?;
        Ok(catalogue)
    }

    async fn reload(&self) -> StoreResult<()> {
        let mut types = builtin_event_types();
        types.extend(self.store.list_event_types().await?);
        let mut schemas = HashMap::new();
        for t in &types {
            let Some(schema) = &t.schema else { continue };
            match super::schemas::compile(schema) {
                Ok(compiled) => {
                    schemas.insert(t.name.clone(), Arc::new(compiled));
                }
                // Checked at registration; a stored one that no longer
                // compiles is left unenforced rather than blocking publishes.
                Err(e) => tracing::warn!(event_type = %t.name, error = %e, "unusable schema"),
            }
        }
        *self
            .schemas
            .write()
            .expect("catalogue lock is never poisoned") = schemas;
        *self
            .types
            .write()
            .expect("catalogue lock is never poisoned") = types;
        Ok(())
    }

    /// Every known type.
    pub(crate) fn all(&self) -> Vec<EventType> {
        self.types
            .read()
            .expect("catalogue lock is never poisoned")
            .clone()
    }

    /// Every known type name.
    pub(crate) fn names(&self) -> Vec<String> {
        self.types
            .read()
            .expect("catalogue lock is never poisoned")
            .iter()
            .map(|t| t.name.clone())
            .collect()
    }

    fn lookup(&self, name: &str) -> Option<EventType> {
        self.types
            .read()
            .expect("catalogue lock is never poisoned")
            .iter()
            .find(|t| t.name == name)
            .cloned()
    }

    fn has(&self, name: &str) -> bool {
        self.types
            .read()
            .expect("catalogue lock is never poisoned")
            .iter()
            .any(|t| t.name == name)
    }

    /// Whether `name` is a known type (the publish path: no cloning).
    pub(crate) async fn contains(&self, name: &str) -> StoreResult<bool> {
        if self.has(name) {
            return Ok(true);
        }
        self.reload().await?;
        Ok(self.has(name))
    }

    /// How `data` (JSON text) breaks the schema of type `name`, if it has
    /// one and `data` does; see [`super::schemas::violation`].
    pub(crate) fn schema_violation(&self, name: &str, data: &str) -> Option<String> {
        let schema = self
            .schemas
            .read()
            .expect("catalogue lock is never poisoned")
            .get(name)
            .cloned()?;
        match serde_json::from_str::<serde_json::Value>(data) {
            Ok(value) => super::schemas::violation(&schema, &value),
            Err(e) => Some(format!("`data` is not valid JSON: {e}")),
        }
    }

    /// The type called `name`, reloading once if it is not cached.
    pub(crate) async fn get(&self, name: &str) -> StoreResult<Option<EventType>> {
        if let Some(t) = self.lookup(name) {
            return Ok(Some(t));
        }
        self.reload().await?;
        Ok(self.lookup(name))
    }

    /// Replaces a custom type (the store answers `NotFound` for any other).
    pub(crate) async fn update(&self, event_type: EventType) -> StoreResult<()> {
        self.store.update_event_type(&event_type).await?;
        self.reload().await
    }

    /// Registers a custom type.
    pub(crate) async fn register(&self, event_type: EventType) -> StoreResult<()> {
        if self.lookup(&event_type.name).is_some() {
            return Err(hookline_store::StoreError::Conflict(format!(
                "event type {} already exists",
                event_type.name
            )));
        }
        self.store.create_event_type(&event_type).await?;
        self.reload().await
    }
}
