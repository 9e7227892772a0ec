//! "Older" pages of a paged listing (`x-next-cursor`): the pages loaded after the first, the
//! cursor of the next one, and the button that loads it.

use leptos::prelude::*;
use leptos::task::spawn_local;
use rescaler_shared::api_page::Page;

use crate::api::ApiFuture;

/// What a listing loaded after its first page.
pub struct Pager<T: Send + Sync + 'static> {
    older: RwSignal<Vec<T>>,
    next: RwSignal<Option<String>>,
    loading: RwSignal<bool>,
    failure: RwSignal<Option<String>>,
}

impl<T: Send + Sync + 'static> Clone for Pager<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: Send + Sync + 'static> Copy for Pager<T> {}

impl<T: Clone + Send + Sync + 'static> Pager<T> {
    pub fn new() -> Self {
        Self {
            older: RwSignal::new(Vec::new()),
            next: RwSignal::new(None),
            loading: RwSignal::new(false),
            failure: RwSignal::new(None),
        }
    }

    /// The first page and every older one loaded since, in order; remembers where the next
    /// starts the first time it sees this first page.
    pub fn items(self, first: Page<T>) -> Vec<T> {
        let mut items = first.items;
        if self.older.with_untracked(Vec::is_empty) && !self.loading.get_untracked() {
            self.next.set(first.next);
        }
        items.extend(self.older.get());
        items
    }

    /// Forgets the older pages (the first page is loaded again, for other filters).
    pub fn reset(self) {
        self.older.set(Vec::new());
        self.next.set(None);
        self.failure.set(None);
    }

    /// The cursor of the next page, if there is one; tracked.
    pub fn next(self) -> Option<String> {
        self.next.get()
    }

    /// Loads the page `fetch` answers for the next cursor and appends it.
    pub fn load_older(self, fetch: impl FnOnce(&str) -> ApiFuture<Page<T>>) {
        let Some(cursor) = self.next.get_untracked() else { return };
        if self.loading.get_untracked() {
            return;
        }
        self.loading.set(true);
        let future = fetch(&cursor);
        spawn_local(async move {
            match future.await {
                Ok(page) => {
                    self.older.update(|older| older.extend(page.items));
                    self.next.set(page.next);
                    self.failure.set(None);
                }
                Err(failure) => self.failure.set(Some(failure.to_string())),
            }
            self.loading.set(false);
        });
    }

    /// The "older" button while a next page exists, and what went wrong loading it.
    pub fn button(self, id: &'static str, label: &'static str, on_click: impl Fn() + 'static) -> impl IntoView {
        let on_click = StoredValue::new_local(on_click);
        view! {
            <Show when=move || self.next().is_some()>
                <p class="pager">
                    <button type="button" class="button" id=id disabled=move || self.loading.get() on:click=move |_| on_click.with_value(|on_click| on_click())>
                        {move || if self.loading.get() { "Loading…" } else { label }}
                    </button>
                </p>
            </Show>
            {move || self.failure.get().map(|failure| view! { <p class="error" role="alert">{failure}</p> })}
        }
    }
}
