//! The records service: data records pushed into flows, read, replaced, deleted, searched and
//! moved through the queue, and the history of every change they go through.
//!
//! A record is committed, with its queue entry, before any function here returns `Ok`; a
//! caller that answers 2xx after `Ok` has kept the promise that nothing accepted is lost.

mod history;
mod ingest;
mod movetoflow;
mod queue;
mod read;
mod search;
mod status;
mod write;

pub use history::{
    HistoryEntry, Traced, append as append_history, append_many as append_history_many, history,
};
pub use ingest::{
    COALESCE_BELOW, IngestSettings, Ingested, IngestedRecord, Ingestor, MAX_COALESCED_RECORDS,
    NewRecords, ingest, record_text,
};
pub use movetoflow::{MOVED, MoveOutcome, MoveReport, move_to_flow};
pub use queue::{MAX_UUIDS_PER_CALL, QueueAction, QueueOutcome, QueueReport, apply_queue_action};
pub use read::{RecordView, find, find_by_id};
pub use search::{
    DEFAULT_LIMIT, DataFieldMatch, DateColumn, DateRange, FoundRecord, MAX_LIMIT, MAX_OFFSET,
    QueueState, RawParam, RawSearch, SearchPage, SearchPlans, SearchQuery, TOTAL_LOOKAHEAD,
    explain_search, search,
};
pub use status::RecordStatus;
pub use write::{Deleted, Replaced, delete, replace};
