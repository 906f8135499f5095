//! A project version before it is stored: read from a directory and checked whole, so that a
//! version that exists can always be deployed as far as its own content goes.
//!
//! The directory:
//!
//! ```text
//! project.json              {"name": "Shop"}  (optional; the directory's name otherwise)
//! flows/<any>.json          one flow definition each, as POST /v1/flowdiagram takes it
//! keystores/<id>.json       {"type": "json"|"xml"|"raw", "empty": …, "entries": {key: value}}
//! tables/<name>.json        {"columns": [{name, type, index}], "rows": [{"id": 1, column: value}]}
//! websites/<slug>/**        a static website's files
//! hostedpages/<name>.html   a hosted page
//! ```
//!
//! Hidden entries (`.git`, `.DS_Store`) at the top level and directly under `flows/`,
//! `keystores/`, `tables/` and `hostedpages/` are skipped; anything else unexpected is refused.
//! Every error starts with the file, then the field: `tables/users.json: rows[2].id: is
//! required`.

use crate::model::{SiteKind, check_slug};
use flowline_core::{EnvironmentId, Error};
use flowline_flows::FlowDefinition;
use flowline_keystores::{EntryKey, EntryValue, KeystoreId, KeystoreType};
use flowline_tables::{
    ColumnDefinition, InsertRequest, NewTable, RowId, TableDefinition, TableId, TableName,
};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Reads an XML keystore value into its JSON document (the gateway's reader, which expands no
/// entities), or says why it is not well-formed.
pub type XmlReader = fn(&[u8]) -> Result<Value, String>;

/// The largest file a project may hold.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;
/// The most bytes all of a project's files may hold together.
pub const MAX_PROJECT_BYTES: u64 = 256 * 1024 * 1024;
/// The most website files and hosted pages a project may hold.
pub const MAX_FILES: usize = 10_000;
/// How deep a website's directories may nest.
const MAX_DEPTH: usize = 32;
/// The longest path of a website file.
const MAX_PATH_BYTES: usize = 1024;

/// A whole project version, checked.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub name: String,
    pub flows: Vec<FlowDefinition>,
    pub keystores: Vec<KeystoreBundle>,
    pub tables: Vec<TableBundle>,
    pub files: Vec<SiteFile>,
}

/// A keystore of a project: its definition and its entries.
#[derive(Debug, Clone)]
pub struct KeystoreBundle {
    pub keystore_id: KeystoreId,
    pub data_type: KeystoreType,
    /// The empty structure as text; the type's default when `None`.
    pub empty: Option<String>,
    /// `(key, value as text)` in file order.
    pub entries: Vec<(String, String)>,
}

/// A table of a project: its columns as the tables API takes them, and its rows, each with an id.
#[derive(Debug, Clone)]
pub struct TableBundle {
    pub name: TableName,
    pub columns: Value,
    pub rows: Vec<Value>,
}

/// A file of a website, or a hosted page (kept as its `index.html`).
#[derive(Debug, Clone)]
pub struct SiteFile {
    pub kind: SiteKind,
    pub name: String,
    /// Relative to the website, `/`-separated, without `.` or `..` segments.
    pub path: String,
    pub content_type: String,
    pub content: Vec<u8>,
    /// SHA-256 of `content`.
    pub hash: [u8; 32],
}

impl SiteFile {
    fn new(kind: SiteKind, name: &str, path: String, content: Vec<u8>) -> SiteFile {
        SiteFile {
            kind,
            name: name.to_owned(),
            content_type: content_type_of(&path),
            hash: Sha256::digest(&content).into(),
            path,
            content,
        }
    }
}

/// The Content-Type a file is served with, from its extension; text in UTF-8.
pub fn content_type_of(path: &str) -> String {
    let guessed = mime_guess::from_path(path).first_or_octet_stream();
    let essence = guessed.essence_str();
    let textual = guessed.type_() == mime_guess::mime::TEXT
        || matches!(
            essence,
            "application/javascript" | "application/json" | "image/svg+xml" | "application/xml"
        );
    if textual {
        format!("{essence}; charset=utf-8")
    } else {
        essence.to_owned()
    }
}

/// Reads and checks the project directory `dir`.
pub fn read_project_dir(dir: &Path, read_xml: XmlReader) -> Result<Bundle, Error> {
    let mut reader = Reader {
        root: dir.to_path_buf(),
        read_xml,
        total_bytes: 0,
    };
    reader.read()
}

struct Reader {
    root: PathBuf,
    read_xml: XmlReader,
    total_bytes: u64,
}

/// A 400 that names the file (relative to the project directory) first.
fn in_file(file: &str, problem: impl std::fmt::Display) -> Error {
    Error::bad_request(format!("{file}: {problem}"))
}

/// Prefixes a checker's `field: problem` message with the file.
fn within(file: &str) -> impl Fn(Error) -> Error + '_ {
    move |error| match error {
        Error::Client { kind, message } => Error::new(kind, format!("{file}: {message}")),
        other => other,
    }
}

const TOP_LEVEL: [&str; 6] = [
    "project.json",
    "flows",
    "keystores",
    "tables",
    "websites",
    "hostedpages",
];

impl Reader {
    fn read(&mut self) -> Result<Bundle, Error> {
        if !self.root.is_dir() {
            return Err(in_file(
                &self.root.display().to_string(),
                "is not a directory",
            ));
        }
        for (name, _) in self.entries(&self.root.clone(), "")? {
            if !TOP_LEVEL.contains(&name.as_str()) {
                return Err(in_file(
                    &name,
                    format!(
                        "is not part of a project (expected {})",
                        TOP_LEVEL.join(", ")
                    ),
                ));
            }
        }
        let name = self.project_name()?;
        let flows = self.flows()?;
        let keystores = self.keystores()?;
        let tables = self.tables()?;
        let mut files = self.websites()?;
        files.extend(self.hosted_pages()?);
        if files.len() > MAX_FILES {
            return Err(in_file(
                "websites",
                format!("a project holds at most {MAX_FILES} website files and hosted pages"),
            ));
        }
        Ok(Bundle {
            name,
            flows,
            keystores,
            tables,
            files,
        })
    }

    /// The entries of a directory, by name, hidden ones left out; each name must be UTF-8 and
    /// each entry a plain file or directory (never a link, which could lead out of the project).
    fn entries(&self, dir: &Path, shown: &str) -> Result<Vec<(String, PathBuf)>, Error> {
        let listing = std::fs::read_dir(dir).map_err(|error| io_error(shown, &error))?;
        let mut entries = Vec::new();
        for entry in listing {
            let entry = entry.map_err(|error| io_error(shown, &error))?;
            let Ok(name) = entry.file_name().into_string() else {
                return Err(in_file(
                    &join(shown, &entry.file_name().to_string_lossy()),
                    "a file name must be UTF-8",
                ));
            };
            if name.starts_with('.') {
                continue;
            }
            let file_type = entry
                .file_type()
                .map_err(|error| io_error(&join(shown, &name), &error))?;
            if file_type.is_symlink() {
                return Err(in_file(
                    &join(shown, &name),
                    "is a symbolic link; a project holds plain files and directories only",
                ));
            }
            entries.push((name, entry.path()));
        }
        entries.sort();
        Ok(entries)
    }

    fn read_file(&mut self, path: &Path, shown: &str) -> Result<Vec<u8>, Error> {
        let metadata = std::fs::symlink_metadata(path).map_err(|error| io_error(shown, &error))?;
        if !metadata.is_file() {
            return Err(in_file(shown, "is not a file"));
        }
        if metadata.len() > MAX_FILE_BYTES {
            return Err(in_file(
                shown,
                format!(
                    "is larger than {} MiB, the most a project file may be",
                    MAX_FILE_BYTES / 1024 / 1024
                ),
            ));
        }
        self.total_bytes += metadata.len();
        if self.total_bytes > MAX_PROJECT_BYTES {
            return Err(in_file(
                shown,
                format!(
                    "the project is larger than {} MiB, the most a project may be",
                    MAX_PROJECT_BYTES / 1024 / 1024
                ),
            ));
        }
        std::fs::read(path).map_err(|error| io_error(shown, &error))
    }

    fn read_json(&mut self, path: &Path, shown: &str) -> Result<Value, Error> {
        let bytes = self.read_file(path, shown)?;
        serde_json::from_slice(&bytes)
            .map_err(|error| in_file(shown, format!("malformed JSON: {error}")))
    }

    /// The `.json` files of a top-level directory, as `(stem, path, shown)`; none when the
    /// directory is absent.
    fn json_files(&self, dir: &str) -> Result<Vec<(String, PathBuf, String)>, Error> {
        self.files_with_extension(dir, ".json")
    }

    fn files_with_extension(
        &self,
        dir: &str,
        extension: &str,
    ) -> Result<Vec<(String, PathBuf, String)>, Error> {
        let path = self.root.join(dir);
        if !path.exists() {
            return Ok(Vec::new());
        }
        if !path.is_dir() {
            return Err(in_file(dir, "must be a directory"));
        }
        self.entries(&path, dir)?
            .into_iter()
            .map(|(name, path)| {
                let shown = join(dir, &name);
                match name.strip_suffix(extension) {
                    Some(stem) if path.is_file() => Ok((stem.to_owned(), path, shown)),
                    _ => Err(in_file(
                        &shown,
                        format!("expected only {extension} files in {dir}/"),
                    )),
                }
            })
            .collect()
    }

    fn project_name(&mut self) -> Result<String, Error> {
        let path = self.root.join("project.json");
        let name = if path.exists() {
            let value = self.read_json(&path, "project.json")?;
            let Value::Object(object) = value else {
                return Err(in_file("project.json", "expected an object {\"name\": …}"));
            };
            refuse_unknown_keys(&object, "project.json", "", &["name"])?;
            match object.get("name") {
                None | Some(Value::Null) => None,
                Some(Value::String(name)) => Some(name.trim().to_owned()),
                Some(_) => return Err(in_file("project.json", "name: expected a string")),
            }
        } else {
            None
        };
        let name = match name {
            Some(name) => name,
            None => std::fs::canonicalize(&self.root)
                .ok()
                .and_then(|dir| {
                    dir.file_name()
                        .map(|name| name.to_string_lossy().into_owned())
                })
                .unwrap_or_default(),
        };
        if name.is_empty() || name.chars().count() > 128 || name.chars().any(char::is_control) {
            return Err(in_file(
                "project.json",
                "name: expected 1 to 128 characters without control characters",
            ));
        }
        Ok(name)
    }

    fn flows(&mut self) -> Result<Vec<FlowDefinition>, Error> {
        let mut flows: Vec<FlowDefinition> = Vec::new();
        let mut seen = HashSet::new();
        for (_, path, shown) in self.json_files("flows")? {
            let value = self.read_json(&path, &shown)?;
            let definition = FlowDefinition::parse(&value).map_err(within(&shown))?;
            if !seen.insert(definition.name().to_owned()) {
                return Err(in_file(
                    &shown,
                    format!(
                        "name: another file of flows/ already defines the flow '{}'",
                        definition.name()
                    ),
                ));
            }
            flows.push(definition);
        }
        Ok(flows)
    }

    fn keystores(&mut self) -> Result<Vec<KeystoreBundle>, Error> {
        let mut keystores = Vec::new();
        for (stem, path, shown) in self.json_files("keystores")? {
            let value = self.read_json(&path, &shown)?;
            keystores.push(keystore(&stem, &value, self.read_xml).map_err(within(&shown))?);
        }
        Ok(keystores)
    }

    fn tables(&mut self) -> Result<Vec<TableBundle>, Error> {
        let mut tables = Vec::new();
        for (stem, path, shown) in self.json_files("tables")? {
            let value = self.read_json(&path, &shown)?;
            tables.push(table(&stem, &value).map_err(within(&shown))?);
        }
        Ok(tables)
    }

    fn websites(&mut self) -> Result<Vec<SiteFile>, Error> {
        let path = self.root.join("websites");
        if !path.exists() {
            return Ok(Vec::new());
        }
        if !path.is_dir() {
            return Err(in_file("websites", "must be a directory"));
        }
        let mut files = Vec::new();
        for (slug, dir) in self.entries(&path, "websites")? {
            let shown = join("websites", &slug);
            if !dir.is_dir() {
                return Err(in_file(&shown, "expected a directory per website"));
            }
            check_slug(&slug, "slug").map_err(within(&shown))?;
            self.website_files(&slug, &dir, "", &mut files, 0)?;
        }
        Ok(files)
    }

    /// Every file under `dir`, website `slug`, with its path relative to the website.
    fn website_files(
        &mut self,
        slug: &str,
        dir: &Path,
        relative: &str,
        files: &mut Vec<SiteFile>,
        depth: usize,
    ) -> Result<(), Error> {
        let shown_dir = join(&join("websites", slug), relative);
        if depth > MAX_DEPTH {
            return Err(in_file(
                &shown_dir,
                format!("directories nest deeper than {MAX_DEPTH} levels"),
            ));
        }
        // Hidden files belong to websites (`.well-known/`), so they are read here.
        let listing = std::fs::read_dir(dir).map_err(|error| io_error(&shown_dir, &error))?;
        let mut entries = Vec::new();
        for entry in listing {
            let entry = entry.map_err(|error| io_error(&shown_dir, &error))?;
            let name = entry.file_name().into_string().map_err(|name| {
                in_file(
                    &join(&shown_dir, &name.to_string_lossy()),
                    "a file name must be UTF-8",
                )
            })?;
            entries.push((name, entry));
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, entry) in entries {
            let path = join(relative, &name);
            let shown = join(&join("websites", slug), &path);
            check_path_segment(&name).map_err(|problem| in_file(&shown, problem))?;
            if path.len() > MAX_PATH_BYTES {
                return Err(in_file(
                    &shown,
                    format!("a path is at most {MAX_PATH_BYTES} bytes"),
                ));
            }
            let file_type = entry
                .file_type()
                .map_err(|error| io_error(&shown, &error))?;
            if file_type.is_symlink() {
                return Err(in_file(
                    &shown,
                    "is a symbolic link; a project holds plain files and directories only",
                ));
            } else if file_type.is_dir() {
                self.website_files(slug, &entry.path(), &path, files, depth + 1)?;
            } else {
                let content = self.read_file(&entry.path(), &shown)?;
                files.push(SiteFile::new(SiteKind::Website, slug, path, content));
            }
        }
        Ok(())
    }

    fn hosted_pages(&mut self) -> Result<Vec<SiteFile>, Error> {
        let mut pages = Vec::new();
        for (stem, path, shown) in self.files_with_extension("hostedpages", ".html")? {
            check_slug(&stem, "name").map_err(within(&shown))?;
            let content = self.read_file(&path, &shown)?;
            pages.push(SiteFile::new(
                SiteKind::HostedPage,
                &stem,
                "index.html".to_owned(),
                content,
            ));
        }
        Ok(pages)
    }
}

fn join(dir: &str, name: &str) -> String {
    match (dir.is_empty(), name.is_empty()) {
        (true, _) => name.to_owned(),
        (_, true) => dir.to_owned(),
        _ => format!("{dir}/{name}"),
    }
}

fn io_error(shown: &str, error: &std::io::Error) -> Error {
    in_file(
        if shown.is_empty() { "." } else { shown },
        format!("cannot be read: {error}"),
    )
}

/// A path segment a website may hold: what a URL path can name unambiguously.
pub fn check_path_segment(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name == "." || name == ".." {
        return Err("is not a file name a URL can reach");
    }
    if name
        .chars()
        .any(|c| c.is_control() || c == '\\' || c == '/')
    {
        return Err("a file name may not hold control characters or backslashes");
    }
    Ok(())
}

fn refuse_unknown_keys(
    object: &Map<String, Value>,
    file: &str,
    prefix: &str,
    known: &[&str],
) -> Result<(), Error> {
    match object.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(in_file(
            file,
            format!(
                "{prefix}{key}: is not a known field (expected {})",
                known.join(", ")
            ),
        )),
        None => Ok(()),
    }
}

/// A keystore file: `{"type", "empty", "entries": {key: value}}`; the keystore's name is the
/// file's. A JSON keystore's values are any JSON; an XML or raw keystore's are strings.
fn keystore(stem: &str, value: &Value, read_xml: XmlReader) -> Result<KeystoreBundle, Error> {
    let keystore_id = KeystoreId::parse(stem, "keystore_id").map_err(Error::from)?;
    let Value::Object(object) = value else {
        return Err(Error::invalid_field(
            "body",
            "expected an object {type, empty, entries}",
        ));
    };
    if let Some(key) = object
        .keys()
        .find(|key| !matches!(key.as_str(), "type" | "empty" | "entries"))
    {
        return Err(Error::invalid_field(
            key,
            "is not a known field (expected type, empty, entries)",
        ));
    }
    let data_type = match object.get("type") {
        Some(Value::String(text)) => KeystoreType::parse(text, "type").map_err(Error::from)?,
        None | Some(Value::Null) => KeystoreType::Json,
        Some(_) => return Err(Error::invalid_field("type", "expected json, xml or raw")),
    };
    let text_of = |value: &Value, field: &str| -> Result<String, Error> {
        let text = match (data_type, value) {
            (KeystoreType::Json, value) => value.to_string(),
            (_, Value::String(text)) => text.clone(),
            _ => {
                return Err(Error::invalid_field(
                    field,
                    format!(
                        "expected a string: keystore '{keystore_id}' holds {} values",
                        data_type.as_str()
                    ),
                ));
            }
        };
        EntryValue::parse(data_type, text.as_bytes(), read_xml, field).map_err(Error::from)?;
        Ok(text)
    };
    let empty = match object.get("empty") {
        None => None,
        Some(value) => Some(text_of(value, "empty")?),
    };
    let entries = match object.get("entries") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(entries)) => entries
            .iter()
            .map(|(key, value)| {
                let field = format!("entries.{key}");
                EntryKey::parse(key, &field).map_err(Error::from)?;
                Ok((key.clone(), text_of(value, &field)?))
            })
            .collect::<Result<Vec<_>, Error>>()?,
        Some(_) => {
            return Err(Error::invalid_field(
                "entries",
                "expected an object {key: value}",
            ));
        }
    };
    Ok(KeystoreBundle {
        keystore_id,
        data_type,
        empty,
        entries,
    })
}

/// A table file: `{"columns": […], "rows": [{"id": 1, …}]}`; the table's name is the file's.
/// Every row has an `id` (a positive integer, unique in the file), so that deploying the same
/// rows again finds them; its values are checked against the file's columns.
fn table(stem: &str, value: &Value) -> Result<TableBundle, Error> {
    let Value::Object(object) = value else {
        return Err(Error::invalid_field(
            "body",
            "expected an object {columns, rows}",
        ));
    };
    if let Some(key) = object
        .keys()
        .find(|key| !matches!(key.as_str(), "columns" | "rows"))
    {
        return Err(Error::invalid_field(
            key,
            "is not a known field (expected columns, rows)",
        ));
    }
    let name = TableName::parse(stem, "name")?;
    let columns = object.get("columns").cloned().unwrap_or(json!([]));
    let new = NewTable::parse(&json!({"name": stem, "columns": columns}))?;
    let definition = definition_of(&new);
    let rows = match object.get("rows") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(rows)) => rows.clone(),
        Some(_) => return Err(Error::invalid_field("rows", "expected an array of rows")),
    };
    let mut ids = HashSet::new();
    for (index, row) in rows.iter().enumerate() {
        let field = format!("rows[{index}]");
        let (id, request) = row_of(row, &field)?;
        if !ids.insert(id) {
            return Err(Error::invalid_field(
                &format!("{field}.id"),
                format!("row {} is given twice", id.0),
            ));
        }
        request
            .check(&definition)
            .map_err(|error| Error::bad_request(format!("{field}.{}", error.public_message())))?;
    }
    Ok(TableBundle {
        name,
        columns,
        rows,
    })
}

/// A row of a project's table: its id, and its other values as an insert takes them.
pub(crate) fn row_of(row: &Value, field: &str) -> Result<(RowId, InsertRequest), Error> {
    let Value::Object(object) = row else {
        return Err(Error::invalid_field(
            field,
            "expected an object {\"id\": …, column: value, …}",
        ));
    };
    let id = match object.get("id") {
        None | Some(Value::Null) => {
            return Err(Error::invalid_field(&format!("{field}.id"), "is required"));
        }
        Some(Value::Number(number)) => number.as_i64().filter(|id| *id > 0).map(RowId),
        Some(_) => None,
    }
    .ok_or_else(|| Error::invalid_field(&format!("{field}.id"), "expected a positive integer"))?;
    let mut values = object.clone();
    values.remove("id");
    if values.contains_key("columns") {
        return Err(Error::invalid_field(
            &format!("{field}.columns"),
            "rows are plain objects {column: value}",
        ));
    }
    let request = InsertRequest::parse(&Value::Object(values))?;
    Ok((id, request))
}

/// The definition a new table would have, to check rows against before it exists.
fn definition_of(new: &NewTable) -> TableDefinition {
    TableDefinition {
        table_id: TableId(0),
        environment_id: EnvironmentId(0),
        name: new.name.clone(),
        columns: new
            .columns
            .iter()
            .zip(1..)
            .map(|(spec, column_id)| ColumnDefinition {
                column_id,
                name: spec.name.clone(),
                column_type: spec.column_type,
                indexed: spec.index,
            })
            .collect(),
        created_at: chrono::Utc::now(),
        updated_at: chrono::Utc::now(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn no_xml(_: &[u8]) -> Result<Value, String> {
        Err("malformed XML".into())
    }

    fn write(dir: &Path, path: &str, text: &str) {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn error_of(dir: &Path) -> String {
        read_project_dir(dir, no_xml).unwrap_err().public_message()
    }

    #[test]
    fn a_whole_project_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "project.json", r#"{"name": "Shop"}"#);
        write(
            root,
            "flows/a.json",
            r#"{"name": "orders", "start": "done", "steps": {"done": {"type": "end"}}}"#,
        );
        write(
            root,
            "keystores/weather.json",
            r#"{"type": "json", "empty": {}, "entries": {"london": {"temp": 12}}}"#,
        );
        write(
            root,
            "tables/users.json",
            r#"{"columns": [{"name": "age", "type": "integer"}], "rows": [{"id": 1, "age": 3}]}"#,
        );
        write(root, "websites/shop/index.html", "<h1>hi</h1>");
        write(root, "websites/shop/css/site.css", "h1{}");
        write(root, "hostedpages/landing.html", "<p>x</p>");
        write(root, ".git/HEAD", "ref");
        let bundle = read_project_dir(root, no_xml).unwrap();
        assert_eq!(bundle.name, "Shop");
        assert_eq!(bundle.flows.len(), 1);
        assert_eq!(
            bundle.keystores[0].entries,
            vec![("london".into(), r#"{"temp":12}"#.into())]
        );
        assert_eq!(bundle.tables[0].rows.len(), 1);
        let paths: Vec<(&str, &str, &str)> = bundle
            .files
            .iter()
            .map(|f| (f.name.as_str(), f.path.as_str(), f.content_type.as_str()))
            .collect();
        assert_eq!(
            paths,
            vec![
                ("shop", "css/site.css", "text/css; charset=utf-8"),
                ("shop", "index.html", "text/html; charset=utf-8"),
                ("landing", "index.html", "text/html; charset=utf-8"),
            ]
        );
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let cases: [(&str, &str, &str); 9] = [
            ("flows/a.json", "{", "flows/a.json: malformed JSON"),
            (
                "flows/a.json",
                r#"{"name": "f", "start": "x", "steps": {"x": {"type": "end", "next": "y"}}}"#,
                "flows/a.json: steps.x",
            ),
            (
                "tables/users.json",
                r#"{"columns": [{"name": "age", "type": "integer"}], "rows": [{"age": 1}]}"#,
                "tables/users.json: rows[0].id: is required",
            ),
            (
                "tables/users.json",
                r#"{"columns": [{"name": "age", "type": "integer"}], "rows": [{"id": 1, "age": "x"}]}"#,
                "tables/users.json: rows[0].age: 'x' is not an integer",
            ),
            (
                "tables/users.json",
                r#"{"columns": [{"name": "age", "type": "int"}]}"#,
                "tables/users.json: columns[0].type: unknown type",
            ),
            (
                "keystores/k.json",
                r#"{"type": "yaml"}"#,
                "keystores/k.json: type: expected json, xml or raw",
            ),
            (
                "keystores/k.json",
                r#"{"type": "xml", "entries": {"a": "<a>"}}"#,
                "keystores/k.json: entries.a: malformed XML",
            ),
            ("extra.txt", "x", "extra.txt: is not part of a project"),
            (
                "websites/bad slug/index.html",
                "x",
                "websites/bad slug: slug: ",
            ),
        ];
        for (path, text, expected) in cases {
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), path, text);
            let message = error_of(dir.path());
            assert!(message.starts_with(expected), "{path}: {message}");
        }
    }

    #[test]
    fn links_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "websites/shop/index.html", "x");
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("websites/shop/passwd")).unwrap();
        let message = error_of(dir.path());
        assert!(
            message.starts_with("websites/shop/passwd: is a symbolic link"),
            "{message}"
        );
    }
}
