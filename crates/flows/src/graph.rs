//! The checks on a definition's steps as a graph: every reference names a step, every step is
//! reachable from the start, every cycle passes through a `delay`, and from every step some path
//! reaches a step that ends the flow.

use std::collections::{HashMap, VecDeque};

use crate::catalog::{StepKind, Successor};
use crate::field_error::FieldError;
use crate::step::Step;

/// An edge of the graph: the index of the step it leads to, and whether it is taken only when
/// a step fails (`on_error`).
#[derive(Clone, Copy)]
struct Edge {
    to: usize,
    on_error: bool,
}

/// Runs every graph check; `index` maps each step id to its position in `steps`.
pub(crate) fn check(
    start: &str,
    steps: &[Step],
    index: &HashMap<String, usize>,
) -> Result<(), FieldError> {
    let start = *index
        .get(start)
        .ok_or_else(|| FieldError::new("start", format!("refers to unknown step '{start}'")))?;
    let edges = resolve_edges(steps, index)?;
    check_reachable(start, steps, &edges)?;
    check_cycles(steps, &edges)?;
    check_ends(steps, &edges)
}

/// Each step's edges, or an error naming the first reference to an unknown step.
fn resolve_edges(
    steps: &[Step],
    index: &HashMap<String, usize>,
) -> Result<Vec<Vec<Edge>>, FieldError> {
    steps
        .iter()
        .map(|step| {
            let mut references: Vec<(Successor<'_>, bool)> = step
                .kind
                .successors()
                .into_iter()
                .map(|s| (s, false))
                .collect();
            if let Some(on_error) = &step.on_error {
                references.push((Successor::new("on_error", on_error), true));
            }
            references
                .into_iter()
                .map(|(successor, on_error)| match index.get(successor.step) {
                    Some(&to) => Ok(Edge { to, on_error }),
                    None => Err(FieldError::new(
                        format!("steps.{}.{}", step.id, successor.field),
                        format!("refers to unknown step '{}'", successor.step),
                    )),
                })
                .collect()
        })
        .collect()
}

fn check_reachable(start: usize, steps: &[Step], edges: &[Vec<Edge>]) -> Result<(), FieldError> {
    let reached = visit(start, edges);
    let unreachable: Vec<&str> = steps
        .iter()
        .zip(&reached)
        .filter(|(_, reached)| !**reached)
        .map(|(step, _)| step.id.as_str())
        .collect();
    match unreachable.first() {
        None => Ok(()),
        Some(first) => Err(FieldError::new(
            format!("steps.{first}"),
            format!(
                "is not reachable from the start step '{}' (unreachable: {})",
                steps[start].id,
                unreachable.join(", ")
            ),
        )),
    }
}

/// Which steps a breadth-first walk from `from` reaches.
fn visit(from: usize, edges: &[Vec<Edge>]) -> Vec<bool> {
    let mut reached = vec![false; edges.len()];
    reached[from] = true;
    let mut queue = VecDeque::from([from]);
    while let Some(at) = queue.pop_front() {
        for edge in &edges[at] {
            if !reached[edge.to] {
                reached[edge.to] = true;
                queue.push_back(edge.to);
            }
        }
    }
    reached
}

/// Refuses a cycle that does not pass through a `delay` step (it would spin a worker forever),
/// naming its steps in order.
fn check_cycles(steps: &[Step], edges: &[Vec<Edge>]) -> Result<(), FieldError> {
    match find_cycle_without_delay(steps, edges) {
        None => Ok(()),
        Some(cycle) => {
            let mut names: Vec<&str> = cycle.iter().map(|&at| steps[at].id.as_str()).collect();
            let first = names[0];
            names.push(first);
            Err(FieldError::new(
                format!("steps.{first}"),
                format!(
                    "is part of a cycle without a delay step: {}",
                    names.join(" -> ")
                ),
            ))
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Visit {
    New,
    OnPath,
    Done,
}

/// A depth-first search of the graph without its `delay` steps: an edge back to a step on the
/// current path closes a cycle, returned from that step on.
fn find_cycle_without_delay(steps: &[Step], edges: &[Vec<Edge>]) -> Option<Vec<usize>> {
    let is_delay = |at: usize| matches!(steps[at].kind, StepKind::Delay(_));
    let mut visit = vec![Visit::New; steps.len()];
    for root in 0..steps.len() {
        if is_delay(root) || visit[root] != Visit::New {
            continue;
        }
        visit[root] = Visit::OnPath;
        // The path from `root`, each step with the index of its next edge to follow.
        let mut path = vec![(root, 0)];
        while let Some(&(at, next_edge)) = path.last() {
            let Some(edge) = edges[at].get(next_edge) else {
                visit[at] = Visit::Done;
                path.pop();
                continue;
            };
            if let Some(top) = path.last_mut() {
                top.1 += 1;
            }
            if is_delay(edge.to) {
                continue;
            }
            match visit[edge.to] {
                Visit::New => {
                    visit[edge.to] = Visit::OnPath;
                    path.push((edge.to, 0));
                }
                Visit::OnPath => {
                    let from = path.iter().position(|&(step, _)| step == edge.to)?;
                    return Some(path[from..].iter().map(|&(step, _)| step).collect());
                }
                Visit::Done => {}
            }
        }
    }
    None
}

/// Refuses steps from which no path (without failing) reaches a step that ends the flow: a loop
/// through a `delay` with no way out.
fn check_ends(steps: &[Step], edges: &[Vec<Edge>]) -> Result<(), FieldError> {
    let mut predecessors = vec![Vec::new(); steps.len()];
    for (from, step_edges) in edges.iter().enumerate() {
        for edge in step_edges.iter().filter(|edge| !edge.on_error) {
            predecessors[edge.to].push(from);
        }
    }
    let mut can_end: Vec<bool> = steps.iter().map(|step| step.kind.is_terminal()).collect();
    let mut queue: VecDeque<usize> = (0..steps.len()).filter(|&at| can_end[at]).collect();
    while let Some(at) = queue.pop_front() {
        for &from in &predecessors[at] {
            if !can_end[from] {
                can_end[from] = true;
                queue.push_back(from);
            }
        }
    }
    let endless: Vec<&str> = steps
        .iter()
        .zip(&can_end)
        .filter(|(_, can_end)| !**can_end)
        .map(|(step, _)| step.id.as_str())
        .collect();
    match endless.first() {
        None => Ok(()),
        Some(first) => Err(FieldError::new(
            format!("steps.{first}"),
            format!(
                "never ends: no path from it reaches an 'end' or 'move_to_flow' step \
                 (steps that never end: {})",
                endless.join(", ")
            ),
        )),
    }
}
