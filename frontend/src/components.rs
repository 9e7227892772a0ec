//! Pieces the pages share, one component per file.

pub mod backend_status;
pub mod cluster_card;
pub mod code_to_run;
pub mod decision_confirm;
pub mod error_notice;
pub mod events_timeline;
pub mod flink_account;
pub mod job_charts;
pub mod job_row;
pub mod line_chart;
pub mod loaded;
pub mod nav_bar;
pub mod notifications;
pub mod operation_actions;
pub mod operations_table;
pub mod pager;
pub mod phase_badge;
pub mod phase_progress;
pub mod recommendation_panel;
pub mod rescale_form;
pub mod schedule_note;
