//! Loads an API answer into a signal, again whenever a signal the fetcher reads changes or on
//! `refetch`; the previous answer stays shown while a newer one loads, and only the answer to
//! the latest request is kept.
//!
//! A lighter stand-in for `LocalResource`, whose async machinery costs kilobytes of wasm per
//! use; the console needs neither suspense nor transitions. The loading itself is compiled once
//! for every answer type (the answer is kept type-erased), only reading it back is typed.

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{ApiFailure, ApiFuture};

/// An answer, `Result<T, ApiFailure>` for the `T` of its [`Fetch`].
type Answer = Arc<dyn Any + Send + Sync>;

/// Loads one answer.
type AnswerFuture = Pin<Box<dyn Future<Output = Answer>>>;

/// `None` until the first answer, then the latest one.
pub struct Fetch<T: Send + Sync + 'static> {
    answer: RwSignal<Option<Answer>>,
    version: RwSignal<u32>,
    answers: PhantomData<fn() -> T>,
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
        let (answer, version) = start(Box::new(move || {
            let future = fetcher();
            Box::pin(async move { Arc::new(future.await) as Answer })
        }));
        Self { answer, version, answers: PhantomData }
    }

    /// The latest answer; tracked.
    pub fn get(self) -> Option<Result<T, ApiFailure>> {
        self.answer.with(|answer| answer.as_ref()?.downcast_ref::<Result<T, ApiFailure>>().cloned())
    }

    /// Loads again.
    pub fn refetch(self) {
        self.version.update(|version| *version += 1);
    }
}

/// Runs `fetcher` now and whenever what it reads (or the version) changes; answers the signal
/// the latest answer goes into and the version. Not generic on purpose.
fn start(fetcher: Box<dyn Fn() -> AnswerFuture>) -> (RwSignal<Option<Answer>>, RwSignal<u32>) {
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
    (answer, version)
}
