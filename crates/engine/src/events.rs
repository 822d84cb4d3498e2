//! The event log behind `/events`: a bounded history (for `since`) and a
//! broadcast to live subscribers.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use tokio::sync::broadcast;

use crate::filters::Filters;

const HISTORY: usize = 1024;

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `image`, `container`, `network`, `volume`, `daemon` …
    pub kind: &'static str,
    pub action: String,
    pub actor_id: String,
    pub attributes: BTreeMap<String, String>,
    /// Unix time in nanoseconds.
    pub time_nano: i128,
}

#[derive(Debug)]
pub struct Events {
    history: Mutex<VecDeque<Event>>,
    live: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl Events {
    pub fn new() -> Self {
        Self { history: Mutex::new(VecDeque::with_capacity(HISTORY)), live: broadcast::channel(256).0 }
    }

    pub fn publish(
        &self,
        kind: &'static str,
        action: &str,
        actor_id: &str,
        attributes: BTreeMap<String, String>,
    ) {
        let time_nano = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
        let ev =
            Event { kind, action: action.to_string(), actor_id: actor_id.to_string(), attributes, time_nano };
        let mut h = self.history.lock().expect("events lock poisoned");
        if h.len() == HISTORY {
            h.pop_front();
        }
        h.push_back(ev.clone());
        // Publishing under the history lock keeps subscribers' order equal to the history's.
        let _ = self.live.send(ev);
    }

    /// The recorded events since `since_nano`, and a receiver for later ones,
    /// taken atomically so nothing falls between the two.
    pub fn subscribe(&self, since_nano: Option<i128>) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let h = self.history.lock().expect("events lock poisoned");
        let past = match since_nano {
            Some(s) => h.iter().filter(|e| e.time_nano >= s).cloned().collect(),
            None => Vec::new(),
        };
        (past, self.live.subscribe())
    }
}

impl Event {
    /// Whether the event passes `/events` filters (type, event, image, label …).
    pub fn matches(&self, f: &Filters) -> bool {
        let name = self.attributes.get("name").map(String::as_str).unwrap_or("");
        f.accepts("type", |v| v == self.kind)
            && f.accepts("event", |v| v == self.action || self.action.starts_with(&format!("{v}:")))
            && f.accepts("image", |v| {
                self.kind == "image"
                    && (v == self.actor_id
                        || v == name
                        || self.actor_id.strip_prefix("sha256:").is_some_and(|h| h.starts_with(v)))
            })
            && f.accepts("container", |v| {
                self.kind == "container" && (self.actor_id.starts_with(v) || v == name)
            })
            && f.accepts("label", |v| match v.split_once('=') {
                Some((k, val)) => self.attributes.get(k).is_some_and(|x| x == val),
                None => self.attributes.contains_key(v),
            })
    }
}
