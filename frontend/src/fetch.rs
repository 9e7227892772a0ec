//! Loads an API answer into a signal, again whenever a signal the fetcher reads changes or on
//! `refetch`; the previous answer stays shown while a newer one loads, and only the answer to
//! the latest request is kept.
//!
//! A lighter stand-in for `LocalResource`, whose async machinery costs kilobytes of wasm per
//! use; the console needs neither suspense nor transitions.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{ApiFailure, ApiFuture};

/// `None` until the first answer, then the latest one.
pub struct Fetch<T: Send + Sync + 'static> {
    answer: RwSignal<Option<Result<T, ApiFailure>>>,
    version: RwSignal<u32>,
}

impl<T: Send + Sync + 'static> Clone for Fetch<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Fetch<T> {}

impl<T: Clone + Send + Sync + 'static> Fetch<T> {
    /// Starts loading; `fetcher` runs now and again when what it reads changes.
    pub fn new(fetcher: impl Fn() -> ApiFuture<T> + 'static) -> Self {
        let answer = RwSignal::new(None);
        let version = RwSignal::new(0_u32);
        let latest = StoredValue::new(0_u32);
        Effect::new(move |_| {
            version.track();
            let future = fetcher();
            latest.update_value(|ticket| *ticket += 1);
            let ticket = latest.get_value();
            spawn_local(async move {
                let result = future.await;
                if latest.try_get_value() == Some(ticket) {
                    answer.try_set(Some(result));
                }
            });
        });
        Self { answer, version }
    }

    /// The latest answer; tracked.
    pub fn get(self) -> Option<Result<T, ApiFailure>> {
        self.answer.get()
    }

    /// Loads again.
    pub fn refetch(self) {
        self.version.update(|version| *version += 1);
    }
}
