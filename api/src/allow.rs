//! The `Allow` header of a 405 answer (RFC 9110: it names the methods the resource supports),
//! from the paths and methods of the OpenAPI document.

/// The methods of every path template of the OpenAPI document, for the `Allow` header.
pub(crate) struct AllowTable(Vec<(Vec<String>, String)>);

impl AllowTable {
    pub(crate) fn from_spec(spec: &str) -> Self {
        let doc: serde_json::Value = serde_json::from_str(spec).unwrap_or_default();
        let mut rows = Vec::new();
        if let Some(paths) = doc["paths"].as_object() {
            for (template, ops) in paths {
                let segments = template.split('/').map(str::to_string).collect();
                let methods: Vec<String> = ops
                    .as_object()
                    .map(|o| o.keys().map(|m| m.to_uppercase()).collect())
                    .unwrap_or_default();
                rows.push((segments, methods.join(", ")));
            }
        }
        AllowTable(rows)
    }

    /// Literal segments win over `{param}` ones (`/jobs/stats` before `/jobs/{id}`).
    pub(crate) fn methods(&self, path: &str) -> Option<String> {
        let parts: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .filter(|(segs, _)| {
                segs.len() == parts.len()
                    && segs
                        .iter()
                        .zip(&parts)
                        .all(|(s, p)| s == p || (s.starts_with('{') && !p.is_empty()))
            })
            .min_by_key(|(segs, _)| segs.iter().filter(|s| s.starts_with('{')).count())
            .map(|(_, m)| m.clone())
    }
}
