//! Searching an environment's records: `GET /v1/record/search`.
//!
//! A few static statements serve every combination of filters: each filter is written
//! `($n IS NULL OR condition)`, and the statements are sent unprepared (unnamed statements),
//! so PostgreSQL plans them for the values at hand — the absent filters fold away and the
//! remaining conditions reach their indexes (`records_flow_idx`, `records_status_idx`, the
//! date indexes, `records_uuid_key`, and the GIN index on `data` for data fields). A cached
//! generic plan could not do that.
//!
//! The total is counted first, because it decides how the page is read: walking the records
//! newest first until the page is full, or gathering the matches through their indexes and
//! sorting them (see [`PageStrategy`]). The planner cannot make that choice well on its own for
//! data fields and date ranges, and sqlx wants static SQL, so the two are two statements that
//! differ only in their `ORDER BY`.
//!
//! A data-field filter becomes a jsonpath (`$."client"."name" ? (@ == "Ada")`) bound as one
//! parameter and tested with `data @? $n`, which the GIN `jsonb_path_ops` index answers. The
//! jsonpath is built here from a validated [`FieldPath`] and a quoted value, never from the
//! client's raw text.
//!
//! `total` is counted up to a bound (see [`TOTAL_LOOKAHEAD`]): an exact count of millions of
//! records would cost more than the page itself.

use crate::status::RecordStatus;
use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use flowline_core::rules::{FieldPath, MAX_VALUE_BYTES, Segment};
use flowline_core::time::parse_atom;
use flowline_core::{Error, Tenant};
use flowline_db::PgConnection;
use flowline_flows::store as flows;
use sqlx::postgres::PgArguments;
use sqlx::{Arguments, Connection};
use std::fmt::Write as _;
use uuid::Uuid;

/// Records per page unless the client asks otherwise.
pub const DEFAULT_LIMIT: i64 = 10;
/// The largest page.
pub const MAX_LIMIT: i64 = 100;
/// The deepest page: skipping rows costs as much as reading them, so paging stops here; narrow
/// the search (by date, for one) to reach older records.
pub const MAX_OFFSET: i64 = 1_000_000;
/// How far past the requested page `total` counts. `total` is exact when fewer than
/// `offset + limit + TOTAL_LOOKAHEAD` records match, and that bound otherwise — so a client
/// paging through the results always sees that more remain, while a search matching millions
/// of records stops counting after a few thousand index entries.
pub const TOTAL_LOOKAHEAD: i64 = 10_000;

/// One search parameter as the client sent it: the name it came under (a header or a URL
/// parameter — error messages use it) and its text.
pub type RawParam<'a> = Option<(&'a str, &'a str)>;

/// The search parameters as the client sent them, each found by the caller under its header
/// or its URL name.
#[derive(Debug, Default, Clone, Copy)]
pub struct RawSearch<'a> {
    pub limit: RawParam<'a>,
    pub offset: RawParam<'a>,
    pub uuid: RawParam<'a>,
    pub flow: RawParam<'a>,
    pub status: RawParam<'a>,
    pub datafield_name: RawParam<'a>,
    /// May be empty: the records whose field holds `""`.
    pub datafield_value: RawParam<'a>,
    pub date_type: RawParam<'a>,
    pub date_from: RawParam<'a>,
    pub date_to: RawParam<'a>,
}

/// A validated search.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchQuery {
    pub limit: i64,
    pub offset: i64,
    pub uuid: Option<Uuid>,
    /// A flow's name or id.
    pub flow: Option<String>,
    pub status: Option<RecordStatus>,
    pub data_field: Option<DataFieldMatch>,
    pub dates: Option<DateRange>,
}

impl Default for SearchQuery {
    fn default() -> Self {
        SearchQuery {
            limit: DEFAULT_LIMIT,
            offset: 0,
            uuid: None,
            flow: None,
            status: None,
            data_field: None,
            dates: None,
        }
    }
}

/// The record dates a search can filter on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateColumn {
    Created,
    Started,
    LastRun,
}

impl DateColumn {
    pub fn parse(text: &str) -> Option<DateColumn> {
        match text {
            "date_created" => Some(DateColumn::Created),
            "date_started" => Some(DateColumn::Started),
            "date_last_run" => Some(DateColumn::LastRun),
            _ => None,
        }
    }
}

/// Records whose date lies in `[from, until)`; either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    pub column: DateColumn,
    pub from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub until: Option<DateTime<Utc>>,
}

/// Records whose data holds `value` at `path`: as a string, and also as a number or a boolean
/// when the value spells one (`"36"` finds `36` and `"36"`). Arrays met along the path are
/// searched through: `client.name` finds `{"client": [{"name": …}, …]}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFieldMatch {
    path: FieldPath,
    value: String,
    jsonpath: String,
}

impl DataFieldMatch {
    /// The match, or what is wrong with the value (the path is already valid).
    pub fn new(path: FieldPath, value: &str) -> Result<DataFieldMatch, String> {
        if value.len() > MAX_VALUE_BYTES {
            return Err(format!("a value is at most {MAX_VALUE_BYTES} bytes long"));
        }
        if value.contains('\0') {
            return Err("a value cannot contain the NUL character".to_owned());
        }
        let jsonpath = jsonpath(&path, value);
        Ok(DataFieldMatch {
            path,
            value: value.to_owned(),
            jsonpath,
        })
    }

    pub fn path(&self) -> &FieldPath {
        &self.path
    }

    pub fn value(&self) -> &str {
        &self.value
    }

    /// The SQL/JSON path that `data @? …` tests.
    pub fn jsonpath(&self) -> &str {
        &self.jsonpath
    }
}

/// `$."client"."name" ? (@ == "36" || @ == 36)`. The default (lax) mode unwraps arrays at
/// every step and in the filter, and the GIN `jsonb_path_ops` index supports exactly this
/// form: key steps and `==` comparisons with constants joined by `||`.
fn jsonpath(path: &FieldPath, value: &str) -> String {
    let mut out = String::from("$");
    for segment in path.segments() {
        match segment {
            Segment::Key(key) => {
                out.push('.');
                push_quoted(&mut out, key);
            }
            Segment::Index(index) => {
                let _ = write!(out, "[{index}]");
            }
        }
    }
    out.push_str(" ? (@ == ");
    push_quoted(&mut out, value);
    if let Some(number) = json_number(value) {
        out.push_str(" || @ == ");
        out.push_str(&number.to_string());
    }
    if value == "true" || value == "false" {
        out.push_str(" || @ == ");
        out.push_str(value);
    }
    out.push(')');
    out
}

/// A jsonpath string literal: double quotes, with `"`, `\` and control characters escaped.
fn push_quoted(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The number a value spells under JSON's own grammar (no `+`, no leading zeros, no spaces),
/// when it fits a double — the same reading the where-rules give a quoted number.
fn json_number(text: &str) -> Option<serde_json::Number> {
    let starts_well = text
        .as_bytes()
        .first()
        .is_some_and(|b| *b == b'-' || b.is_ascii_digit());
    let ends_well = text.as_bytes().last().is_some_and(u8::is_ascii_digit);
    if !starts_well || !ends_well {
        return None;
    }
    serde_json::from_str::<serde_json::Number>(text)
        .ok()
        .filter(|number| number.as_f64().is_some_and(f64::is_finite))
}

impl SearchQuery {
    /// Checks every parameter; a bad one is a 400 that names it as the client sent it.
    pub fn parse(raw: &RawSearch<'_>) -> Result<SearchQuery, Error> {
        let mut query = SearchQuery::default();
        if let Some((name, text)) = raw.limit {
            query.limit = bounded_integer(name, text, 1, MAX_LIMIT)?;
        }
        if let Some((name, text)) = raw.offset {
            query.offset = bounded_integer(name, text, 0, MAX_OFFSET)?;
        }
        if let Some((name, text)) = raw.uuid {
            query.uuid = Some(text.parse().map_err(|_| {
                Error::invalid_field(name, format!("'{text}' is not a valid UUID"))
            })?);
        }
        query.flow = raw.flow.map(|(_, text)| text.to_owned());
        if let Some((name, text)) = raw.status {
            query.status = Some(
                text.parse::<i16>()
                    .ok()
                    .and_then(RecordStatus::from_code)
                    .ok_or_else(|| {
                        Error::invalid_field(
                            name,
                            format!("'{text}' is not a data record status (0 to 6)"),
                        )
                    })?,
            );
        }
        query.data_field = data_field(raw.datafield_name, raw.datafield_value)?;
        query.dates = date_range(raw.date_type, raw.date_from, raw.date_to)?;
        Ok(query)
    }
}

fn bounded_integer(name: &str, text: &str, min: i64, max: i64) -> Result<i64, Error> {
    text.parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            Error::invalid_field(
                name,
                format!("'{text}' is not an integer from {min} to {max}"),
            )
        })
}

fn data_field(name: RawParam<'_>, value: RawParam<'_>) -> Result<Option<DataFieldMatch>, Error> {
    match (name, value) {
        (None, None) => Ok(None),
        (None, Some((value_name, _))) => Err(Error::invalid_field(
            value_name,
            "needs the name of the data field to search (X-datafield-name or datafield_name)",
        )),
        (Some((name_name, _)), None) => Err(Error::invalid_field(
            name_name,
            "needs the value to search for (X-datafield-value or datafield_value)",
        )),
        (Some((name_name, path)), Some((value_name, value))) => {
            let path = FieldPath::parse(path)
                .map_err(|problem| Error::invalid_field(name_name, problem))?;
            DataFieldMatch::new(path, value)
                .map(Some)
                .map_err(|problem| Error::invalid_field(value_name, problem))
        }
    }
}

/// Which end of a range a date bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    From,
    To,
}

fn date_range(
    date_type: RawParam<'_>,
    from: RawParam<'_>,
    to: RawParam<'_>,
) -> Result<Option<DateRange>, Error> {
    let column = match date_type {
        Some((name, text)) => DateColumn::parse(text).ok_or_else(|| {
            Error::invalid_field(
                name,
                format!("'{text}' is not one of date_created, date_started, date_last_run"),
            )
        })?,
        None => DateColumn::Created,
    };
    let bound = |param: RawParam<'_>, end: End| {
        param
            .map(|(name, text)| {
                search_date(text, end).ok_or_else(|| {
                    Error::invalid_field(
                        name,
                        format!(
                            "'{text}' is not a date such as 2017-12-31 24:00:00 or \
                             31-12-2017 12:00:00"
                        ),
                    )
                })
            })
            .transpose()
    };
    let range = DateRange {
        column,
        from: bound(from, End::From)?,
        until: bound(to, End::To)?,
    };
    if let (Some(start), Some(until), Some((name, _))) = (range.from, range.until, from)
        && start >= until
    {
        return Err(Error::invalid_field(name, "is not before date_to"));
    }
    Ok((range.from.is_some() || range.until.is_some()).then_some(range))
}

/// A date as the reference writes them — `2017-12-31 23:59:59`, `31-12-2017 12:00:00`, with
/// `24:00:00` for the end of a day, the time optional (`2017-12-31`) — or in ATOM. All UTC.
/// As a lower bound it is the instant itself; as an upper bound it includes the whole second
/// it names (or the whole day, without a time), and is returned as the exclusive end.
fn search_date(text: &str, end: End) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let whole_second = Duration::seconds(1);
    if let Some(at) = parse_atom(text) {
        return Some(if end == End::To {
            at + whole_second
        } else {
            at
        });
    }
    let (day, time) = match text.split_once(' ') {
        Some((day, time)) => (day, Some(time.trim())),
        None => (text, None),
    };
    let day = NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(day, "%d-%m-%Y"))
        .ok()?;
    let start_of = |day: NaiveDate| day.and_time(NaiveTime::MIN).and_utc();
    let next_day = || day.succ_opt().map(start_of);
    match time {
        None => match end {
            End::From => Some(start_of(day)),
            End::To => next_day(),
        },
        Some("24:00:00" | "24:00") => next_day(),
        Some(time) => {
            let time = NaiveTime::parse_from_str(time, "%H:%M:%S")
                .or_else(|_| NaiveTime::parse_from_str(time, "%H:%M"))
                .ok()?;
            let at = day.and_time(time).and_utc();
            Some(if end == End::To {
                at + whole_second
            } else {
                at
            })
        }
    }
}

/// One record of a search's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundRecord {
    pub record_id: i64,
    pub uuid: Uuid,
    pub flow_id: i64,
    /// `""` once the flow is gone.
    pub flow_name: String,
    pub flow_version: i32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub last_run_at: Option<DateTime<Utc>>,
    /// When its queue entry is due; `None` when it is not in the queue.
    pub next_run_at: Option<DateTime<Utc>>,
    pub status: RecordStatus,
    pub queue: QueueState,
    /// The step it stands at; `None` before it starts.
    pub current_step: Option<String>,
    /// That step's type in the record's flow version.
    pub current_step_type: Option<String>,
    pub num_runs: i32,
}

/// Where a record stands in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueState {
    /// Not in the queue: finished, or never queued.
    Absent,
    /// Due, waiting for a worker.
    Queued,
    /// Waiting for its execution time.
    Scheduled,
    /// Paused by a queue action; not claimed until resumed.
    Paused,
    /// A worker holds it.
    Processing,
}

impl QueueState {
    /// `queue_status` in search results: `""` out of the queue.
    pub fn name(self) -> &'static str {
        match self {
            QueueState::Absent => "",
            QueueState::Queued => "queued",
            QueueState::Scheduled => "scheduled",
            QueueState::Paused => "paused",
            QueueState::Processing => "processing",
        }
    }
}

/// A page of results.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    pub records: Vec<FoundRecord>,
    /// Exact below `offset + limit + TOTAL_LOOKAHEAD`, that bound otherwise.
    pub total: i64,
    pub offset: i64,
    pub limit: i64,
}

/// The query plans of a search, for benchmarks and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPlans {
    /// The page's plan, after a first line that names the strategy the total led to (see
    /// [`PageStrategy`]); only that line when the page is not read at all.
    pub page: String,
    pub total: String,
}

/// The records that match, with `$1`…`$12` bound by [`filter_arguments`]. The alias is `m` so
/// that the page can join the matching ids back to `records`.
macro_rules! matching {
    () => {
        concat!(
            "FROM records m WHERE m.org_id = $1 AND m.environment_id = $2",
            " AND ($3::uuid IS NULL OR m.uuid = $3::uuid)",
            " AND ($4::bigint IS NULL OR m.flow_id = $4::bigint)",
            " AND ($5::smallint IS NULL OR m.status = $5::smallint)",
            " AND ($6::text IS NULL OR m.data @? $6::text::jsonpath)",
            " AND ($7::timestamptz IS NULL OR m.created_at >= $7::timestamptz)",
            " AND ($8::timestamptz IS NULL OR m.created_at < $8::timestamptz)",
            " AND ($9::timestamptz IS NULL OR m.started_at >= $9::timestamptz)",
            " AND ($10::timestamptz IS NULL OR m.started_at < $10::timestamptz)",
            " AND ($11::timestamptz IS NULL OR m.last_run_at >= $11::timestamptz)",
            " AND ($12::timestamptz IS NULL OR m.last_run_at < $12::timestamptz)"
        )
    };
}

/// The page: the ids of the page's matches in `$order` (newest first either way), then their
/// records, each with the flow's name, the current step's type and the queue entry. Only the
/// ids are ordered and cut, so that a search whose filters an index covers (the date indexes
/// include `record_id`, `flow_id` and `status`) reads index entries only, and the 10 records
/// of the page by their primary key.
macro_rules! page_sql {
    ($order:literal) => {
        concat!(
            "SELECT p.record_id, p.uuid, p.flow_id, coalesce(f.name, '') AS flow_name,",
            " p.flow_version, p.created_at, p.started_at, p.last_run_at,",
            " q.next_run_at, p.status, p.current_step,",
            " v.definition -> 'steps' -> p.current_step ->> 'type' AS current_step_type,",
            " p.num_runs, q.record_id IS NOT NULL AS queued, coalesce(q.paused, false) AS paused,",
            " coalesce(q.lease_until > now(), false) AS leased,",
            " coalesce(q.next_run_at > now(), false) AS waiting",
            " FROM (SELECT m.record_id ",
            matching!(),
            " ORDER BY ",
            $order,
            " LIMIT $13 OFFSET $14) i",
            " JOIN records p ON p.org_id = $1 AND p.record_id = i.record_id",
            " LEFT JOIN flows f ON f.org_id = p.org_id AND f.flow_id = p.flow_id",
            " LEFT JOIN flow_versions v ON v.org_id = p.org_id AND v.flow_id = p.flow_id",
            " AND v.version = p.flow_version",
            " LEFT JOIN record_queue q ON q.org_id = p.org_id AND q.record_id = p.record_id",
            " ORDER BY p.record_id DESC"
        )
    };
}

/// [`PageStrategy::Walk`]: an index in `record_id` order can deliver the page's ids in order.
macro_rules! walk_sql {
    () => {
        page_sql!("m.record_id DESC")
    };
}

/// [`PageStrategy::Sort`]: `record_id + 0` is the same order, but no index provides it, so the
/// planner must gather the matches through the filters' indexes and sort them.
macro_rules! sort_sql {
    () => {
        page_sql!("m.record_id + 0 DESC")
    };
}

/// How many match, up to `$13`.
macro_rules! total_sql {
    () => {
        concat!(
            "SELECT count(*) FROM (SELECT 1 ",
            matching!(),
            " LIMIT $13) t"
        )
    };
}

/// How many of the environment's records lie at or past the end of a date range (`$3`, `$4`
/// or `$5`, by date), up to `$6`: about the records that a walk from the newest record passes
/// before it reaches the range. Read from the date's index alone.
const PAST_RANGE_SQL: &str = concat!(
    "SELECT count(*) FROM (SELECT 1 FROM records m",
    " WHERE m.org_id = $1 AND m.environment_id = $2",
    " AND ($3::timestamptz IS NULL OR m.created_at >= $3::timestamptz)",
    " AND ($4::timestamptz IS NULL OR m.started_at >= $4::timestamptz)",
    " AND ($5::timestamptz IS NULL OR m.last_run_at >= $5::timestamptz)",
    " LIMIT $6) t"
);

/// How the page reaches the newest matches. PostgreSQL's own choice goes wrong for two kinds of
/// filter, as it cannot see how the matches lie along `record_id`:
///
/// - a data field: `data @? …` has no statistics to speak of (records are too wide for the
///   column's histogram), so the planner assumes that 1 % of the records match, whatever the
///   value, walks the newest records expecting a page within a thousand of them, and for a
///   rare value reads the whole environment;
/// - a date range: the number of matches is estimated well, but the planner takes them to be
///   spread evenly over `record_id`, when they lie together (ids and creation dates grow
///   together), so a walk from the newest record first passes every record newer than the range.
///
/// The total, counted first, says how many match, so the page's strategy is chosen here rather
/// than left to those estimates (see [`choose`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PageStrategy {
    /// No page to read: it lies past the last match (the total is exact there).
    Empty,
    /// Walk the environment's records newest first — on the primary key, or on the flow or the
    /// status index, which hold them in `record_id` order — testing each until the page is
    /// full. It reads `offset + limit` matches and every record between them: nothing else
    /// when one index holds exactly the matches, a little when matches are many and spread,
    /// the whole environment when they are few or old.
    Walk,
    /// Gather every match through the most selective of the filters' indexes (the GIN index of
    /// the data, a date index) and keep the newest: costs what the matches cost to read, however
    /// old they are, so it is right for few matches — and for many of them in a date range,
    /// whose covering index gives them for the price of index entries.
    Sort,
}

/// The page's strategy as the total decides it, or the question the total leaves open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    Decided(PageStrategy),
    /// Many records match a date range that ends at `until`: a walk pays for every record past
    /// that end before it reaches the range, so it depends on how many there are (see
    /// [`PAST_RANGE_SQL`]).
    CountPastRange {
        column: DateColumn,
        until: DateTime<Utc>,
    },
}

/// `total` is counted up to `bound` (`offset + limit + TOTAL_LOOKAHEAD`), so below it, it is
/// the exact number of matches.
///
/// - No filter, or only a flow or only a status: a walk of the matching index reads the page
///   and nothing more. A uuid finds at most one record, either way.
/// - Fewer matches than the bound: sorting reads just them — no more than the count did — where a
///   walk could read the whole environment to find them.
/// - More: they are common, and a walk soon fills the page. Except in a date range with an end,
///   where a walk first passes the records after it: if at least `bound` records lie there,
///   the range's index is read instead (index entries only, see the migration
///   `search_plans`). A data field then walks anyway: with data to test, gathering the matches
///   reads every one of them from the table, and a common value (half of millions of records)
///   would be read and sorted whole.
fn choose(query: &SearchQuery, total: i64, bound: i64) -> Choice {
    if total <= query.offset {
        return Choice::Decided(PageStrategy::Empty);
    }
    let one_index_in_order = query.uuid.is_some()
        || (query.data_field.is_none()
            && query.dates.is_none()
            && (query.flow.is_none() || query.status.is_none()));
    if one_index_in_order {
        return Choice::Decided(PageStrategy::Walk);
    }
    if total < bound {
        return Choice::Decided(PageStrategy::Sort);
    }
    match query.dates {
        Some(DateRange {
            column,
            until: Some(until),
            ..
        }) if query.data_field.is_none() => Choice::CountPastRange { column, until },
        _ => Choice::Decided(PageStrategy::Walk),
    }
}

/// The strategy for the past-range count of [`Choice::CountPastRange`]: walk when fewer than
/// `bound` records lie past the range, so that the walk reads no more than the total did.
fn after_counting_past_range(past: i64, bound: i64) -> PageStrategy {
    if past < bound {
        PageStrategy::Walk
    } else {
        PageStrategy::Sort
    }
}

/// How a search reads its page, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PagePlan {
    strategy: PageStrategy,
    total: i64,
    bound: i64,
    /// The records past the date range, when they were counted.
    past_range: Option<i64>,
}

impl PagePlan {
    /// The first line of [`SearchPlans::page`].
    fn describe(&self) -> String {
        let strategy = match self.strategy {
            PageStrategy::Empty => "none: the page lies past the last match",
            PageStrategy::Walk => "walk: newest first along an index in record_id order",
            PageStrategy::Sort => "sort: gather the matches through their indexes, keep the newest",
        };
        let past = self
            .past_range
            .map(|past| format!(", {past} records past the date range"))
            .unwrap_or_default();
        format!(
            "Page strategy: {strategy} (total {} of at most {}{past})",
            self.total, self.bound
        )
    }
}

/// The page statement of a strategy; with `explain`, `EXPLAIN`ed (`Some(true)`: with `ANALYZE`
/// and `BUFFERS`). `None` for [`PageStrategy::Empty`].
fn page_statement(strategy: PageStrategy, explain: Option<bool>) -> Option<&'static str> {
    Some(match (strategy, explain) {
        (PageStrategy::Empty, _) => return None,
        (PageStrategy::Walk, None) => walk_sql!(),
        (PageStrategy::Walk, Some(false)) => concat!("EXPLAIN ", walk_sql!()),
        (PageStrategy::Walk, Some(true)) => concat!("EXPLAIN (ANALYZE, BUFFERS) ", walk_sql!()),
        (PageStrategy::Sort, None) => sort_sql!(),
        (PageStrategy::Sort, Some(false)) => concat!("EXPLAIN ", sort_sql!()),
        (PageStrategy::Sort, Some(true)) => concat!("EXPLAIN (ANALYZE, BUFFERS) ", sort_sql!()),
    })
}

#[derive(sqlx::FromRow)]
struct FoundRow {
    record_id: i64,
    uuid: Uuid,
    flow_id: i64,
    flow_name: String,
    flow_version: i32,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    last_run_at: Option<DateTime<Utc>>,
    next_run_at: Option<DateTime<Utc>>,
    status: i16,
    current_step: Option<String>,
    current_step_type: Option<String>,
    num_runs: i32,
    queued: bool,
    paused: bool,
    leased: bool,
    waiting: bool,
}

impl TryFrom<FoundRow> for FoundRecord {
    type Error = Error;

    fn try_from(row: FoundRow) -> Result<FoundRecord, Error> {
        let status = RecordStatus::from_code(row.status)
            .ok_or_else(|| Error::internal(format!("unknown record status {}", row.status)))?;
        let queue = if !row.queued {
            QueueState::Absent
        } else if row.leased || status == RecordStatus::Processing {
            QueueState::Processing
        } else if row.paused {
            QueueState::Paused
        } else if row.waiting {
            QueueState::Scheduled
        } else {
            QueueState::Queued
        };
        Ok(FoundRecord {
            record_id: row.record_id,
            uuid: row.uuid,
            flow_id: row.flow_id,
            flow_name: row.flow_name,
            flow_version: row.flow_version,
            created_at: row.created_at,
            started_at: row.started_at,
            last_run_at: row.last_run_at,
            next_run_at: row.next_run_at,
            status,
            queue,
            current_step: row.current_step,
            current_step_type: row.current_step_type,
            num_runs: row.num_runs,
        })
    }
}

/// The tenant's records that match, newest first, one page of them, with a bounded total.
/// An unknown flow is a 404. The page and the total are read from one snapshot (the caller's
/// transaction, when it has one).
pub async fn search(
    conn: &mut PgConnection,
    tenant: Tenant,
    query: &SearchQuery,
) -> Result<SearchPage, Error> {
    if conn.is_in_transaction() {
        return search_in_snapshot(conn, tenant, query).await;
    }
    let mut snapshot = conn
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await?;
    let result = search_in_snapshot(&mut snapshot, tenant, query).await;
    // Read only: ending it either way changes nothing.
    snapshot.rollback().await?;
    result
}

/// The total first, as it decides how the page is read (see [`PageStrategy`]).
async fn search_in_snapshot(
    conn: &mut PgConnection,
    tenant: Tenant,
    query: &SearchQuery,
) -> Result<SearchPage, Error> {
    let flow_id = flow_id(&mut *conn, tenant, query).await?;
    let total = count(&mut *conn, tenant, query, flow_id).await?;
    let plan = plan_page(&mut *conn, tenant, query, total).await?;
    let records = match page_statement(plan.strategy, None) {
        None => Vec::new(),
        Some(sql) => {
            let rows: Vec<FoundRow> =
                sqlx::query_as_with(sql, page_arguments(tenant, query, flow_id)?)
                    .persistent(false)
                    .fetch_all(&mut *conn)
                    .await?;
            rows.into_iter()
                .map(FoundRecord::try_from)
                .collect::<Result<Vec<_>, _>>()?
        }
    };
    Ok(SearchPage {
        records,
        total,
        offset: query.offset,
        limit: query.limit,
    })
}

/// The plans PostgreSQL picks for a search's page and total, as `EXPLAIN` prints them, or
/// with `analyze` as `EXPLAIN (ANALYZE, BUFFERS)` does after running them. The total is counted
/// (and, when the strategy needs it, the records past the date range) to choose the page's
/// statement as [`search`] would.
pub async fn explain_search(
    conn: &mut PgConnection,
    tenant: Tenant,
    query: &SearchQuery,
    analyze: bool,
) -> Result<SearchPlans, Error> {
    let flow_id = flow_id(&mut *conn, tenant, query).await?;
    let total = count(&mut *conn, tenant, query, flow_id).await?;
    let plan = plan_page(&mut *conn, tenant, query, total).await?;
    let mut page = plan.describe();
    if let Some(sql) = page_statement(plan.strategy, Some(analyze)) {
        let lines: Vec<String> =
            sqlx::query_scalar_with(sql, page_arguments(tenant, query, flow_id)?)
                .persistent(false)
                .fetch_all(&mut *conn)
                .await?;
        for line in lines {
            page.push('\n');
            page.push_str(&line);
        }
    }
    let total_sql = if analyze {
        concat!("EXPLAIN (ANALYZE, BUFFERS) ", total_sql!())
    } else {
        concat!("EXPLAIN ", total_sql!())
    };
    let total: Vec<String> =
        sqlx::query_scalar_with(total_sql, total_arguments(tenant, query, flow_id)?)
            .persistent(false)
            .fetch_all(&mut *conn)
            .await?;
    Ok(SearchPlans {
        page,
        total: total.join("\n"),
    })
}

/// The total: how many match, up to [`total_bound`].
async fn count(
    conn: &mut PgConnection,
    tenant: Tenant,
    query: &SearchQuery,
    flow_id: Option<i64>,
) -> Result<i64, Error> {
    Ok(
        sqlx::query_scalar_with(total_sql!(), total_arguments(tenant, query, flow_id)?)
            .persistent(false)
            .fetch_one(conn)
            .await?,
    )
}

/// The page's strategy for a total, counting the records past the date range when it depends
/// on them.
async fn plan_page(
    conn: &mut PgConnection,
    tenant: Tenant,
    query: &SearchQuery,
    total: i64,
) -> Result<PagePlan, Error> {
    let bound = total_bound(query);
    let mut plan = PagePlan {
        strategy: PageStrategy::Walk,
        total,
        bound,
        past_range: None,
    };
    match choose(query, total, bound) {
        Choice::Decided(strategy) => plan.strategy = strategy,
        Choice::CountPastRange { column, until } => {
            let mut arguments = PgArguments::default();
            add(&mut arguments, tenant.org_id)?;
            add(&mut arguments, tenant.environment_id)?;
            for date in [
                DateColumn::Created,
                DateColumn::Started,
                DateColumn::LastRun,
            ] {
                add(&mut arguments, (date == column).then_some(until))?;
            }
            add(&mut arguments, bound)?;
            let past: i64 = sqlx::query_scalar_with(PAST_RANGE_SQL, arguments)
                .persistent(false)
                .fetch_one(conn)
                .await?;
            plan.strategy = after_counting_past_range(past, bound);
            plan.past_range = Some(past);
        }
    }
    Ok(plan)
}

/// How far the total is counted: past the page by [`TOTAL_LOOKAHEAD`].
fn total_bound(query: &SearchQuery) -> i64 {
    query.offset + query.limit + TOTAL_LOOKAHEAD
}

async fn flow_id(
    conn: &mut PgConnection,
    tenant: Tenant,
    query: &SearchQuery,
) -> Result<Option<i64>, Error> {
    let Some(reference) = &query.flow else {
        return Ok(None);
    };
    match flows::find(conn, tenant, reference, false).await? {
        Some(flow) => Ok(Some(flow.flow_id)),
        // Records outlive their flow: a deleted flow's records are still found by its id.
        None => reference
            .parse::<i64>()
            .map(Some)
            .map_err(|_| crate::ingest::unknown_flow(reference)),
    }
}

fn page_arguments(
    tenant: Tenant,
    query: &SearchQuery,
    flow_id: Option<i64>,
) -> Result<PgArguments, Error> {
    let mut arguments = filter_arguments(tenant, query, flow_id)?;
    add(&mut arguments, query.limit)?;
    add(&mut arguments, query.offset)?;
    Ok(arguments)
}

fn total_arguments(
    tenant: Tenant,
    query: &SearchQuery,
    flow_id: Option<i64>,
) -> Result<PgArguments, Error> {
    let mut arguments = filter_arguments(tenant, query, flow_id)?;
    add(&mut arguments, total_bound(query))?;
    Ok(arguments)
}

/// `$1`…`$12` of [`matching!`].
fn filter_arguments(
    tenant: Tenant,
    query: &SearchQuery,
    flow_id: Option<i64>,
) -> Result<PgArguments, Error> {
    let mut arguments = PgArguments::default();
    add(&mut arguments, tenant.org_id)?;
    add(&mut arguments, tenant.environment_id)?;
    add(&mut arguments, query.uuid)?;
    add(&mut arguments, flow_id)?;
    add(&mut arguments, query.status.map(RecordStatus::code))?;
    add(
        &mut arguments,
        query
            .data_field
            .as_ref()
            .map(|field| field.jsonpath().to_owned()),
    )?;
    let range = |column: DateColumn| {
        query
            .dates
            .filter(|range| range.column == column)
            .map_or((None, None), |range| (range.from, range.until))
    };
    for column in [
        DateColumn::Created,
        DateColumn::Started,
        DateColumn::LastRun,
    ] {
        let (from, until) = range(column);
        add(&mut arguments, from)?;
        add(&mut arguments, until)?;
    }
    Ok(arguments)
}

fn add<'t, T>(arguments: &mut PgArguments, value: T) -> Result<(), Error>
where
    T: sqlx::Encode<'t, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    arguments
        .add(value)
        .map_err(|error| Error::internal(format!("binding a search parameter: {error}")))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests fail loudly")]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn path(text: &str) -> FieldPath {
        FieldPath::parse(text).unwrap()
    }

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, s).single().unwrap()
    }

    #[test]
    fn jsonpaths_quote_keys_and_values_and_add_typed_readings() {
        assert_eq!(
            jsonpath(&path("client.name"), "Ada"),
            r#"$."client"."name" ? (@ == "Ada")"#
        );
        assert_eq!(
            jsonpath(&path("client.age"), "36"),
            r#"$."client"."age" ? (@ == "36" || @ == 36)"#
        );
        assert_eq!(
            jsonpath(&path("items[2].price"), "-1.5e3"),
            r#"$."items"[2]."price" ? (@ == "-1.5e3" || @ == -1500.0)"#
        );
        assert_eq!(
            jsonpath(&path("active"), "true"),
            r#"$."active" ? (@ == "true" || @ == true)"#
        );
        assert_eq!(
            jsonpath(&path("note"), "say \"hi\" \\ \n\u{1}) || @ == 1"),
            r#"$."note" ? (@ == "say \"hi\" \\ \u000a\u0001) || @ == 1")"#
        );
    }

    #[test]
    fn only_json_number_spellings_are_numbers() {
        for number in ["0", "-0", "36", "-1.5", "2e10", "1E-3"] {
            assert!(json_number(number).is_some(), "{number}");
        }
        for text in [
            "", "036", "+1", " 1", "1 ", "1.", ".5", "NaN", "1e999", "0x10", "--1",
        ] {
            assert!(json_number(text).is_none(), "{text}");
        }
    }

    #[test]
    fn the_total_decides_how_the_page_is_read() {
        use PageStrategy::{Empty, Sort, Walk};
        let bound = total_bound(&SearchQuery::default());
        assert_eq!(bound, DEFAULT_LIMIT + TOTAL_LOOKAHEAD);
        let decided = |query: &SearchQuery, total| match choose(query, total, bound) {
            Choice::Decided(strategy) => Some(strategy),
            Choice::CountPastRange { .. } => None,
        };
        let field = Some(DataFieldMatch::new(path("client.email"), "a@b.c").unwrap());
        let until = at(2020, 2, 1, 0, 0, 0);
        let range = |from, until| {
            Some(DateRange {
                column: DateColumn::Started,
                from,
                until,
            })
        };

        // Past the last match, nothing is read.
        let everything = SearchQuery::default();
        assert_eq!(decided(&everything, 0), Some(Empty));
        let deep = SearchQuery {
            offset: 20,
            data_field: field.clone(),
            ..SearchQuery::default()
        };
        assert_eq!(choose(&deep, 20, bound + 20), Choice::Decided(Empty));
        assert_eq!(choose(&deep, 21, bound + 20), Choice::Decided(Sort));

        // One index holds the matches in order: no filter, a flow, a status; a uuid finds one.
        let flow = SearchQuery {
            flow: Some("f".into()),
            ..SearchQuery::default()
        };
        let status = SearchQuery {
            status: Some(RecordStatus::Finished),
            ..SearchQuery::default()
        };
        let uuid = SearchQuery {
            uuid: Some(Uuid::nil()),
            data_field: field.clone(),
            ..SearchQuery::default()
        };
        for query in [&everything, &flow, &status] {
            assert_eq!(decided(query, 1), Some(Walk));
            assert_eq!(decided(query, bound), Some(Walk));
        }
        assert_eq!(decided(&uuid, 1), Some(Walk));

        // Few matches are sorted; many are walked to.
        let flow_and_status = SearchQuery {
            status: Some(RecordStatus::Finished),
            ..flow.clone()
        };
        let by_field = SearchQuery {
            data_field: field.clone(),
            ..SearchQuery::default()
        };
        let open_range = SearchQuery {
            dates: range(Some(until), None),
            ..SearchQuery::default()
        };
        for query in [&flow_and_status, &by_field, &open_range] {
            assert_eq!(decided(query, 1), Some(Sort));
            assert_eq!(decided(query, bound - 1), Some(Sort));
            assert_eq!(decided(query, bound), Some(Walk));
        }

        // Many matches in a range with an end: it depends on the records past it — unless there is
        // data to test, which makes gathering the matches cost as much as the table.
        let closed_range = SearchQuery {
            dates: range(None, Some(until)),
            ..SearchQuery::default()
        };
        assert_eq!(decided(&closed_range, bound - 1), Some(Sort));
        assert_eq!(
            choose(&closed_range, bound, bound),
            Choice::CountPastRange {
                column: DateColumn::Started,
                until
            }
        );
        let field_in_range = SearchQuery {
            data_field: field,
            ..closed_range
        };
        assert_eq!(decided(&field_in_range, bound - 1), Some(Sort));
        assert_eq!(decided(&field_in_range, bound), Some(Walk));
        assert_eq!(after_counting_past_range(bound - 1, bound), Walk);
        assert_eq!(after_counting_past_range(bound, bound), Sort);
    }

    #[test]
    fn values_are_bounded_and_free_of_nul() {
        assert!(DataFieldMatch::new(path("a"), "x\0y").is_err());
        assert!(DataFieldMatch::new(path("a"), &"x".repeat(MAX_VALUE_BYTES + 1)).is_err());
        assert!(DataFieldMatch::new(path("a"), "").is_ok());
    }

    #[test]
    fn dates_in_the_reference_formats() {
        assert_eq!(
            search_date("2017-12-31 12:30:00", End::From),
            Some(at(2017, 12, 31, 12, 30, 0))
        );
        assert_eq!(
            search_date("31-12-2017 12:30:00", End::From),
            Some(at(2017, 12, 31, 12, 30, 0))
        );
        assert_eq!(
            search_date("2017-12-31 12:30:00", End::To),
            Some(at(2017, 12, 31, 12, 30, 1))
        );
        assert_eq!(
            search_date("2017-12-31 24:00:00", End::To),
            Some(at(2018, 1, 1, 0, 0, 0))
        );
        assert_eq!(
            search_date("2017-12-31 24:00:00", End::From),
            Some(at(2018, 1, 1, 0, 0, 0))
        );
        assert_eq!(
            search_date("2017-12-31", End::From),
            Some(at(2017, 12, 31, 0, 0, 0))
        );
        assert_eq!(
            search_date("31-12-2017", End::To),
            Some(at(2018, 1, 1, 0, 0, 0))
        );
        assert_eq!(
            search_date("2017-12-31T10:00:00+02:00", End::From),
            Some(at(2017, 12, 31, 8, 0, 0))
        );
        for bad in [
            "",
            "yesterday",
            "2017-13-01 00:00:00",
            "2017-12-31 25:00:00",
            "31/12/2017",
        ] {
            assert_eq!(search_date(bad, End::From), None, "{bad}");
        }
    }

    fn parse(raw: RawSearch<'_>) -> Result<SearchQuery, String> {
        SearchQuery::parse(&raw).map_err(|error| error.public_message())
    }

    #[test]
    fn parameters_are_checked_and_errors_name_them() {
        assert_eq!(parse(RawSearch::default()), Ok(SearchQuery::default()));
        let limit = |text| RawSearch {
            limit: Some(("X-limit", text)),
            ..RawSearch::default()
        };
        assert_eq!(parse(limit("100")).unwrap().limit, 100);
        for bad in ["0", "101", "-1", "ten", "1.5"] {
            assert!(
                parse(limit(bad)).unwrap_err().starts_with("X-limit: "),
                "{bad}"
            );
        }
        let offset = RawSearch {
            offset: Some(("offset", "-1")),
            ..RawSearch::default()
        };
        assert!(parse(offset).unwrap_err().starts_with("offset: "));
        let status = |text| RawSearch {
            status: Some(("datarecord_status", text)),
            ..RawSearch::default()
        };
        assert_eq!(
            parse(status("3")).unwrap().status,
            Some(RecordStatus::FinishedWithErrors)
        );
        assert!(
            parse(status("7"))
                .unwrap_err()
                .starts_with("datarecord_status: ")
        );
        let uuid = RawSearch {
            uuid: Some(("X-uuid", "nope")),
            ..RawSearch::default()
        };
        assert!(parse(uuid).unwrap_err().starts_with("X-uuid: "));
    }

    #[test]
    fn a_data_field_needs_both_a_valid_name_and_a_value() {
        let field = |name, value| RawSearch {
            datafield_name: name,
            datafield_value: value,
            ..RawSearch::default()
        };
        let found = parse(field(
            Some(("datafield_name", "client.name")),
            Some(("v", "Ada")),
        ))
        .unwrap()
        .data_field
        .unwrap();
        assert_eq!(found.jsonpath(), r#"$."client"."name" ? (@ == "Ada")"#);
        assert!(
            parse(field(None, Some(("X-datafield-value", "Ada"))))
                .unwrap_err()
                .starts_with("X-datafield-value: ")
        );
        assert!(
            parse(field(Some(("datafield_name", "a")), None))
                .unwrap_err()
                .starts_with("datafield_name: ")
        );
        assert!(
            parse(field(Some(("datafield_name", "a..b")), Some(("v", "x"))))
                .unwrap_err()
                .starts_with("datafield_name: ")
        );
        assert!(
            parse(field(Some(("n", "a\"]")), Some(("v", "x"))))
                .unwrap_err()
                .starts_with("n: ")
        );
    }

    #[test]
    fn date_ranges_default_to_the_creation_date_and_must_be_ordered() {
        let range = |date_type, from, to| RawSearch {
            date_type,
            date_from: from,
            date_to: to,
            ..RawSearch::default()
        };
        let created = parse(range(
            None,
            Some(("date_from", "31-12-2017 12:00:00")),
            None,
        ))
        .unwrap()
        .dates
        .unwrap();
        assert_eq!(created.column, DateColumn::Created);
        assert_eq!(created.from, Some(at(2017, 12, 31, 12, 0, 0)));
        assert_eq!(created.until, None);
        let started = parse(range(
            Some(("date_type", "date_started")),
            None,
            Some(("date_to", "2017-12-31 24:00:00")),
        ))
        .unwrap()
        .dates
        .unwrap();
        assert_eq!(started.column, DateColumn::Started);
        assert_eq!(started.until, Some(at(2018, 1, 1, 0, 0, 0)));
        assert_eq!(
            parse(range(Some(("date_type", "date_last_run")), None, None))
                .unwrap()
                .dates,
            None
        );
        assert!(
            parse(range(Some(("X-date-type", "date_modified")), None, None))
                .unwrap_err()
                .starts_with("X-date-type: ")
        );
        assert!(
            parse(range(None, Some(("date_from", "tomorrow")), None))
                .unwrap_err()
                .starts_with("date_from: ")
        );
        assert!(
            parse(range(
                None,
                Some(("date_from", "2018-01-01 00:00:00")),
                Some(("date_to", "2017-12-31 12:00:00"))
            ))
            .unwrap_err()
            .starts_with("date_from: ")
        );
    }
}
