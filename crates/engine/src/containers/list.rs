//! `docker ps` selection: which containers `all` and each filter keep.

use crate::filters::Filters;
use crate::{Engine, Result};

use super::{Container, Status};

const FILTERS: &[&str] = &[
    "id", "name", "label", "status", "ancestor", "exited", "before", "since", "health", "volume", "network",
    "is-task",
];

impl Engine {
    /// Containers matching `filters`; without `all`, only running ones (as
    /// `docker ps`), unless a status filter asks for others.
    pub fn filter_containers(&self, all: bool, filters: &Filters) -> Result<Vec<Container>> {
        filters.validate(FILTERS)?;
        for s in filters.get("status") {
            if !["created", "restarting", "running", "removing", "paused", "exited", "dead"]
                .contains(&s.as_str())
            {
                return Err(crate::Error::InvalidArgument(format!("invalid filter 'status={s}'")));
            }
        }
        let list = self.list_containers();
        let position = |name: &str| -> Result<Option<String>> {
            Ok(match filters.get(name).first() {
                Some(v) => Some(self.container(v)?.created),
                None => None,
            })
        };
        let (before, since) = (position("before")?, position("since")?);
        let ancestors: Vec<String> =
            filters.get("ancestor").iter().filter_map(|a| self.resolve_image(a).ok().map(|i| i.id)).collect();
        let show_all = all || !filters.get("status").is_empty() || !filters.get("exited").is_empty();
        Ok(list
            .into_iter()
            .filter(|c| {
                (show_all || c.state.status.is_active())
                    && filters.accepts("id", |v| c.id.starts_with(v))
                    && filters.accepts("name", |v| c.name.contains(v.trim_start_matches('/')))
                    && filters.accepts("status", |v| v == c.state.status.as_str())
                    && filters.accepts("exited", |v| {
                        c.state.status == Status::Exited && v.parse() == Ok(c.state.exit_code)
                    })
                    && (filters.get("ancestor").is_empty()
                        || ancestors.contains(&c.image)
                        || filters.get("ancestor").contains(&c.image_name))
                    && filters
                        .labels_match("label", &|k| c.config.labels.as_ref().and_then(|l| l.get(k).cloned()))
                    // Every volume asked for, as Docker requires.
                    && filters.get("volume").iter().all(|v| {
                        c.host_config.mount_points().iter().any(|m| &m.destination == v || &m.source == v)
                    })
                    && filters.accepts("network", |v| c.host_config.network_name() == Some(v))
                    && before.as_ref().is_none_or(|b| &c.created < b)
                    && since.as_ref().is_none_or(|s| &c.created > s)
            })
            .collect())
    }
}
