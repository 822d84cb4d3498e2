//! Image operations with Docker's rules: which images a filter selects, when
//! a deletion only untags and when it conflicts, what prune removes, and the
//! events each operation publishes.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use image::{DeleteItem, Image, LoadProgress, Loaded};
use reference::Reference;

use crate::filters::Filters;
use crate::{Engine, Error, Result};

/// The filters `GET /images/json` accepts.
const LIST_FILTERS: &[&str] = &["dangling", "label", "label!", "before", "since", "reference", "until"];
/// The filters `POST /images/prune` accepts.
const PRUNE_FILTERS: &[&str] = &["dangling", "label", "label!", "until"];

/// The answer to an image prune.
#[derive(Debug, Default)]
pub struct Pruned {
    pub deleted: Vec<DeleteItem>,
    pub space_reclaimed: u64,
}

impl Engine {
    fn image_event(
        &self,
        action: &str,
        img_id: &str,
        name: &str,
        labels: Option<&serde_json::Map<String, serde_json::Value>>,
    ) {
        let mut attrs = BTreeMap::new();
        attrs.insert("name".to_string(), name.to_string());
        for (k, v) in labels.into_iter().flatten() {
            attrs.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
        }
        self.events.publish("image", action, img_id, attrs);
    }

    /// `GET /images/json`. `all` also shows intermediate images (those that are
    /// a parent of another image and untagged), as `docker images -a`.
    pub fn list_images(&self, all: bool, filters: &Filters) -> Result<Vec<Image>> {
        filters.validate(LIST_FILTERS)?;
        let images = self.images.list()?;
        let dangling = filters.bool_value("dangling")?;
        let bound = |key: &str| -> Result<Option<i64>> {
            match filters.get(key) {
                [] => Ok(None),
                [v] => Ok(Some(
                    self.images
                        .resolve(v)
                        .map_err(|_| Error::NotFound(format!("No such image: {v}")))?
                        .config
                        .created_unix(),
                )),
                _ => {
                    Err(Error::InvalidArgument(format!("invalid filter '{key}': only one value is allowed")))
                }
            }
        };
        let (before, since) = (bound("before")?, bound("since")?);
        let until = filters.get("until").first().map(|u| parse_until(u)).transpose()?;
        let parents: std::collections::HashSet<&str> =
            images.iter().map(|i| i.record.parent.as_str()).collect();
        let patterns = filters.get("reference");
        let wanted = |r: &String| patterns.iter().any(|p| reference_matches(p, r));
        Ok(images
            .iter()
            .filter(|img| {
                let untagged = img.repo_tags.is_empty();
                if !all && untagged && parents.contains(img.id.as_str()) && dangling.is_none() {
                    return false;
                }
                let created = img.config.created_unix();
                dangling.is_none_or(|d| d == untagged)
                    && before.is_none_or(|b| created < b)
                    && since.is_none_or(|s| created > s)
                    && until.is_none_or(|u| created < u)
                    && labels_pass(img, filters)
                    && (patterns.is_empty() || img.repo_tags.iter().chain(&img.repo_digests).any(wanted))
            })
            .cloned()
            // As Docker, a reference filter also narrows the names shown.
            .map(|mut img| {
                if !patterns.is_empty() {
                    img.repo_tags.retain(wanted);
                    img.repo_digests.retain(wanted);
                }
                img
            })
            .collect())
    }

    pub fn load_images(&self, input: impl Read + Send, progress: LoadProgress) -> Result<Vec<Loaded>> {
        let loaded = self.images.load(input, progress)?;
        for l in &loaded {
            let img = self.images.resolve(&l.id)?;
            for t in &l.tags {
                self.image_event("tag", &l.id, t, img.config.labels());
            }
            self.image_event("load", &l.id, &l.id, img.config.labels());
        }
        Ok(loaded)
    }

    /// `POST /images/create?fromSrc=…`: a root filesystem tarball becomes an image.
    pub fn import_image(
        &self,
        input: impl Read,
        changes: &[String],
        message: &str,
        repo: &str,
        tag: &str,
        progress: LoadProgress,
    ) -> Result<String> {
        let target = match (repo, tag) {
            ("", _) => None,
            (r, "") => Some(Reference::parse_normalized(r)?.with_default_tag().to_string()),
            (r, t) => Some(Reference::parse_normalized(r)?.with_tag(t)?.to_string()),
        };
        let id = self.images.import(input, changes, message, target.as_deref(), progress)?;
        let img = self.images.resolve(&id)?;
        if let Some(t) = &img.repo_tags.first() {
            self.image_event("tag", &id, t, img.config.labels());
        }
        self.image_event("import", &id, &id, img.config.labels());
        Ok(id)
    }

    /// `POST /images/{name}/tag`.
    pub fn tag_image(&self, source: &str, repo: &str, tag: &str) -> Result<()> {
        let img = self.resolve_image(source)?;
        let mut target = Reference::parse_normalized(repo)?;
        if target.digest().is_some() {
            return Err(Error::InvalidArgument("refusing to create a tag with a digest reference".into()));
        }
        if !tag.is_empty() {
            target = target.with_tag(tag)?;
        }
        let target = target.with_default_tag();
        self.images.tag(&img.id, &target.to_string())?;
        self.image_event("tag", &img.id, &target.familiar_string(), img.config.labels());
        Ok(())
    }

    /// Finds an image, with Docker's "No such image" wording.
    pub fn resolve_image(&self, name: &str) -> Result<Image> {
        self.images.resolve(name).map_err(|e| match e {
            image::StoreError::NotFound(_) => {
                Error::NotFound(format!("No such image: {}", display_name(name)))
            }
            e => e.into(),
        })
    }

    /// `DELETE /images/{name}`, with Docker's untag-versus-delete rules.
    pub fn delete_image(&self, name: &str, force: bool, prune_parents: bool) -> Result<Vec<DeleteItem>> {
        let img = self.resolve_image(name)?;
        let by_reference = Reference::parse_normalized(name).is_ok() && !is_id_like(name, &img.id);
        let mut out = Vec::new();
        // An image a container uses is never deleted (its layers are the
        // container's lowerdirs); at most its names go, with force.
        let users = self.containers_using(&img.id);
        if let Some(running) = users.iter().find(|c| c.state.status.is_active())
            && (!by_reference || (img.repo_tags.len() <= 1 && img.repo_digests.is_empty()))
        {
            return Err(Error::Conflict(format!(
                "conflict: unable to delete {} (cannot be forced) - image is being used by running container {}",
                short_id(&img.id),
                running.short_id()
            )));
        }
        if by_reference {
            let r = Reference::parse_normalized(name)?;
            let key = if r.digest().is_some() { r.clone() } else { r.clone().with_default_tag() };
            let last = img.repo_tags.len() <= 1;
            if last
                && !force
                && let Some(c) = users.first()
            {
                return Err(Error::Conflict(format!(
                    "conflict: unable to remove repository reference \"{name}\" (must force) - container {} is using its referenced image {}",
                    c.short_id(),
                    short_id(&img.id)
                )));
            }
            if self.images.untag(&key.to_string())? {
                out.push(DeleteItem::Untagged(key.familiar_string()));
                self.image_event("untag", &img.id, &img.id, img.config.labels());
            }
            let left = self.images.resolve(&img.id)?;
            if !left.repo_tags.is_empty() || (!left.repo_digests.is_empty() && left.record.manifest.is_none())
            {
                return Ok(out);
            }
        } else if let (Some(c), false) = (users.first(), force) {
            return Err(Error::Conflict(format!(
                "conflict: unable to delete {} (must be forced) - image is being used by stopped container {}",
                short_id(&img.id),
                c.short_id()
            )));
        } else if img.repo_tags.len() > 1 && !force {
            return Err(Error::Conflict(format!(
                "conflict: unable to delete {} (must be forced) - image is referenced in multiple repositories",
                short_id(&img.id)
            )));
        }
        if self.images.list()?.iter().any(|i| i.record.parent == img.id) {
            return Err(Error::Conflict(format!(
                "conflict: unable to delete {} (cannot be forced) - image has dependent child images",
                short_id(&img.id)
            )));
        }
        for t in img.repo_tags.iter().chain(&img.repo_digests) {
            if self.images.untag(t)? {
                out.push(DeleteItem::Untagged(t.clone()));
                self.image_event("untag", &img.id, &img.id, img.config.labels());
            }
        }
        if !users.is_empty() {
            return Ok(out);
        }
        out.extend(self.images.remove_image(&img.id)?);
        self.image_event("delete", &img.id, &img.id, img.config.labels());
        if prune_parents
            && !img.record.parent.is_empty()
            && let Ok(parent) = self.images.resolve(&img.record.parent)
        {
            let has_children = self.images.list()?.iter().any(|i| i.record.parent == parent.id);
            if parent.repo_tags.is_empty() && !has_children {
                out.extend(self.delete_image(&parent.id, false, true)?);
            }
        }
        Ok(out)
    }

    /// `POST /images/prune`: dangling images, or with `dangling=false` every
    /// image (no container uses any yet).
    pub fn prune_images(&self, filters: &Filters) -> Result<Pruned> {
        filters.validate(PRUNE_FILTERS)?;
        let dangling_only = filters.bool_value("dangling")?.unwrap_or(true);
        let until = filters.get("until").first().map(|u| parse_until(u)).transpose()?;
        let mut pruned = Pruned::default();
        for img in self.images.list()? {
            if (dangling_only && !img.repo_tags.is_empty())
                || !self.containers_using(&img.id).is_empty()
                || !labels_pass(&img, filters)
                || until.is_some_and(|u| img.config.created_unix() >= u)
            {
                continue;
            }
            let force = !dangling_only;
            match self.delete_image(&img.id, force, true) {
                Ok(items) => pruned.deleted.extend(items),
                // Already gone with a child, or still needed: prune skips it, as Docker's does.
                Err(Error::NotFound(_) | Error::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        let (_, reclaimed) = self.images.gc()?;
        pruned.space_reclaimed = reclaimed;
        if !pruned.deleted.is_empty() {
            let mut attrs = BTreeMap::new();
            attrs.insert("reclaimed".to_string(), pruned.space_reclaimed.to_string());
            self.events.publish("image", "prune", "", attrs);
        }
        Ok(pruned)
    }

    /// `GET /images/get`: writes the named images as a `docker save` tarball.
    pub fn save_images<W: Write>(&self, names: &[String], out: W) -> Result<W> {
        let mut list: Vec<(Image, Vec<String>)> = Vec::new();
        for n in names {
            let img = self.resolve_image(n)?;
            // A name that is a reference saves that tag; an ID saves every tag.
            let tags = match Reference::parse_normalized(n) {
                Ok(r) if !is_id_like(n, &img.id) && r.digest().is_none() => {
                    vec![r.with_default_tag().familiar_string()]
                }
                _ => img.repo_tags.clone(),
            };
            match list.iter_mut().find(|(i, _)| i.id == img.id) {
                Some((_, t)) => t.extend(tags.into_iter().filter(|x| !t.contains(x)).collect::<Vec<_>>()),
                None => list.push((img, tags)),
            }
        }
        let out = self.images.save(&list, out)?;
        for (img, _) in &list {
            self.image_event("save", &img.id, &img.id, img.config.labels());
        }
        Ok(out)
    }
}

fn labels_pass(img: &Image, filters: &Filters) -> bool {
    let get = |k: &str| {
        img.config.labels().and_then(|l| l.get(k)).map(|v| v.as_str().unwrap_or_default().to_string())
    };
    filters.labels_match("label", &get)
        && filters.get("label!").iter().all(|f| !Filters::parse_single(f, &get))
}

impl Filters {
    fn parse_single(f: &str, get: &dyn Fn(&str) -> Option<String>) -> bool {
        match f.split_once('=') {
            Some((k, v)) => get(k).as_deref() == Some(v),
            None => get(f).is_some(),
        }
    }
}

/// Docker's `reference` filter (distribution's `FamiliarMatch`): a glob on
/// the familiar string (`name:tag`), or else on the familiar name alone.
fn reference_matches(pattern: &str, familiar: &str) -> bool {
    let without_digest = familiar.split_once('@').map_or(familiar, |(n, _)| n);
    let name =
        without_digest.rsplit_once(':').filter(|(_, t)| !t.contains('/')).map_or(without_digest, |(n, _)| n);
    glob(pattern, familiar) || glob(pattern, name)
}

/// Shell-style glob with `*` and `?` where `*` does not cross `/` (Go's path.Match).
fn glob(pattern: &str, s: &str) -> bool {
    fn go(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], s) || (!s.is_empty() && s[0] != b'/' && go(p, &s[1..])),
            (Some(b'?'), Some(c)) if *c != b'/' => go(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &s[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), s.as_bytes())
}

/// Unix seconds of an `until` value: a timestamp, RFC 3339 time or a duration ago (`10m`).
pub fn parse_until(v: &str) -> Result<i64> {
    if let Ok(secs) = v.split('.').next().unwrap_or(v).parse::<i64>() {
        return Ok(secs);
    }
    if let Some(t) = image::config::parse_rfc3339(v) {
        return Ok(t);
    }
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
    let n: f64 = num.parse().map_err(|_| Error::InvalidArgument(format!("invalid time value {v:?}")))?;
    let mult = match unit {
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(Error::InvalidArgument(format!("invalid time value {v:?}"))),
    };
    Ok(now - (n * mult) as i64)
}

/// Whether `name` designates the image by ID (full, `sha256:` or a prefix)
/// rather than by one of its references.
fn is_id_like(name: &str, id: &str) -> bool {
    let hex = name.strip_prefix("sha256:").unwrap_or(name);
    !hex.is_empty() && id[7..].starts_with(hex)
}

/// The 12-character form Docker prints.
pub fn short_id(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    &hex[..hex.len().min(12)]
}

/// How Docker names a missing image in errors: references get their default tag.
fn display_name(name: &str) -> String {
    match Reference::parse_normalized(name) {
        Ok(r)
            if r.tag().is_none() && r.digest().is_none() && !name.chars().all(|c| c.is_ascii_hexdigit()) =>
        {
            format!("{name}:latest")
        }
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_filter_globs_like_docker() {
        assert!(reference_matches("busybox", "busybox:latest"));
        assert!(reference_matches("busy*", "busybox:latest"));
        assert!(reference_matches("busybox:lat*", "busybox:latest"));
        assert!(!reference_matches("busybox:1", "busybox:latest"));
        assert!(!reference_matches("*", "library/busybox:latest"));
        assert!(reference_matches("localhost:5000/a", "localhost:5000/a:t"));
        let digest = "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        assert!(reference_matches("busybox", digest));
        assert!(!reference_matches("busybox:latest", digest));
    }

    #[test]
    fn until_accepts_the_three_forms() {
        assert_eq!(parse_until("1700000000").unwrap(), 1_700_000_000);
        assert_eq!(parse_until("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000);
        assert!(parse_until("10m").unwrap() > 1_700_000_000);
        assert!(parse_until("soon").is_err());
    }
}
