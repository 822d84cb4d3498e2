//! Docker's `filters` query parameter: a JSON map from filter name to values,
//! either `{"name":{"value":true}}` or the older `{"name":["value"]}`.

use std::collections::BTreeMap;

use crate::{Error, Result};

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Filters(BTreeMap<String, Vec<String>>);

impl Filters {
    pub fn parse(raw: &str) -> Result<Self> {
        if raw.trim().is_empty() {
            return Ok(Self::default());
        }
        let v: serde_json::Value =
            serde_json::from_str(raw).map_err(|e| Error::InvalidArgument(format!("invalid filter: {e}")))?;
        let obj = v
            .as_object()
            .ok_or_else(|| Error::InvalidArgument("invalid filter: expected a JSON object".into()))?;
        let mut out = BTreeMap::new();
        for (k, vals) in obj {
            let list: Vec<String> = match vals {
                serde_json::Value::Object(m) => {
                    m.iter().filter(|(_, on)| on.as_bool() != Some(false)).map(|(k, _)| k.clone()).collect()
                }
                serde_json::Value::Array(a) => {
                    a.iter().filter_map(|x| x.as_str().map(str::to_string)).collect()
                }
                _ => return Err(Error::InvalidArgument(format!("invalid filter '{k}'"))),
            };
            out.insert(k.clone(), list);
        }
        Ok(Self(out))
    }

    pub fn insert(&mut self, key: &str, value: &str) {
        self.0.entry(key.to_string()).or_default().push(value.to_string());
    }

    pub fn get(&self, key: &str) -> &[String] {
        self.0.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Refuses filter names outside `allowed`, with Docker's wording.
    pub fn validate(&self, allowed: &[&str]) -> Result<()> {
        match self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(Error::InvalidArgument(format!("invalid filter '{k}'"))),
            None => Ok(()),
        }
    }

    /// True when `key` is absent, or when any of its values satisfies `pred`.
    pub fn accepts(&self, key: &str, pred: impl Fn(&str) -> bool) -> bool {
        match self.0.get(key) {
            None => true,
            Some(vals) => vals.iter().any(|v| pred(v)),
        }
    }

    /// Every `label` filter (`k` or `k=v`) holds for `labels`, as Docker requires.
    pub fn labels_match(&self, key: &str, labels: &dyn Fn(&str) -> Option<String>) -> bool {
        self.get(key).iter().all(|f| match f.split_once('=') {
            Some((k, v)) => labels(k).as_deref() == Some(v),
            None => labels(f).is_some(),
        })
    }

    /// A single boolean filter such as `dangling=true`.
    pub fn bool_value(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            [] => Ok(None),
            [v] if v.eq_ignore_ascii_case("true") || v == "1" => Ok(Some(true)),
            [v] if v.eq_ignore_ascii_case("false") || v == "0" => Ok(Some(false)),
            [v] => Err(Error::InvalidArgument(format!("Invalid filter '{key}={v}'"))),
            _ => Err(Error::InvalidArgument(format!("invalid filter '{key}': only one value is allowed"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_wire_forms_parse() {
        let a = Filters::parse(r#"{"dangling":{"true":true},"label":{"a=b":true}}"#).unwrap();
        let b = Filters::parse(r#"{"dangling":["true"],"label":["a=b"]}"#).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.bool_value("dangling").unwrap(), Some(true));
    }

    #[test]
    fn bad_filters_are_refused() {
        assert!(Filters::parse("{").is_err());
        let f = Filters::parse(r#"{"nope":["x"]}"#).unwrap();
        assert_eq!(f.validate(&["label"]).unwrap_err().to_string(), "invalid filter 'nope'");
        assert!(Filters::parse(r#"{"dangling":["maybe"]}"#).unwrap().bool_value("dangling").is_err());
    }
}
