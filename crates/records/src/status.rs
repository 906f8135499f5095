//! The Flowize status codes of a record.

/// Where a record stands: the Flowize codes, stored as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordStatus {
    /// Not started, new or paused.
    New = 0,
    Processing = 1,
    Finished = 2,
    FinishedWithErrors = 3,
    Scheduled = 4,
    Reviewed = 5,
    ErrorsHandled = 6,
}

impl RecordStatus {
    pub const ALL: [RecordStatus; 7] = [
        RecordStatus::New,
        RecordStatus::Processing,
        RecordStatus::Finished,
        RecordStatus::FinishedWithErrors,
        RecordStatus::Scheduled,
        RecordStatus::Reviewed,
        RecordStatus::ErrorsHandled,
    ];

    pub fn code(self) -> i16 {
        self as i16
    }

    pub fn from_code(code: i16) -> Option<RecordStatus> {
        RecordStatus::ALL
            .into_iter()
            .find(|status| status.code() == code)
    }

    /// The status's name in search results and queue actions (`flow_status_name`,
    /// `queue_status_key`).
    pub fn name(self) -> &'static str {
        match self {
            RecordStatus::New => "New",
            RecordStatus::Processing => "Processing",
            RecordStatus::Finished => "Finished",
            RecordStatus::FinishedWithErrors => "Finished with errors",
            RecordStatus::Scheduled => "Scheduled",
            RecordStatus::Reviewed => "Reviewed",
            RecordStatus::ErrorsHandled => "Errors handled",
        }
    }

    /// What `GET /v1/record` says in `info.status`.
    pub fn describe(self, paused: bool) -> &'static str {
        match self {
            RecordStatus::New if paused => "Paused",
            RecordStatus::New => "Not running",
            RecordStatus::Processing => "Running",
            other => other.name(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_codes_are_refused() {
        for status in RecordStatus::ALL {
            assert_eq!(RecordStatus::from_code(status.code()), Some(status));
        }
        assert_eq!(RecordStatus::from_code(7), None);
        assert_eq!(RecordStatus::from_code(-1), None);
    }

    #[test]
    fn a_new_record_is_not_running_unless_paused() {
        assert_eq!(RecordStatus::New.describe(false), "Not running");
        assert_eq!(RecordStatus::New.describe(true), "Paused");
        assert_eq!(RecordStatus::Finished.describe(false), "Finished");
    }
}
