//! `GET /metrics`: the scheduler's counters, step-latency histogram and the queue's depth in
//! the Prometheus text format. It is part of the admin API: guarded by the bearer token
//! `FLOWLINE_ADMIN_TOKEN` and absent when that token is unset, because queue depths and
//! throughput span every organization. Counters are this process's (its `--workers`); a
//! `flowline worker` process has no HTTP listener and exports none.

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use flowline_core::Error;
use http::header::CONTENT_TYPE;

/// The Prometheus text exposition format's content type.
const CONTENT_TYPE_PROMETHEUS: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let depth = flowline_scheduler::queue_depth(state.pool())
        .await
        .map_err(Error::from)?;
    let text = flowline_scheduler::render_prometheus(depth);
    Ok(([(CONTENT_TYPE, CONTENT_TYPE_PROMETHEUS)], text).into_response())
}
