//! A layered layout: longest path from the start for the layers (cycles
//! broken by ignoring back edges), barycentres for the order within a layer.

use crate::{Graph, NodeKind};

/// Where each node goes, in pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub nodes: Vec<Placed>,
    pub width: f64,
    pub height: f64,
}

/// A node's box: centre, size, and layer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Placed {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    pub layer: usize,
}

pub(crate) const CHAR_WIDTH: f64 = 7.2;
const NODE_HEIGHT: f64 = 32.0;
const LAYER_GAP: f64 = 56.0;
const NODE_GAP: f64 = 28.0;
const MARGIN: f64 = 16.0;

pub(crate) fn layout(graph: &Graph) -> Layout {
    let n = graph.nodes.len();
    let back = back_edges(graph);
    let mut layer = vec![0usize; n];
    // Longest path over the forward edges (a DAG once back edges are out).
    for _ in 0..n {
        let mut changed = false;
        for (i, edge) in graph.edges.iter().enumerate() {
            if !back[i] && layer[edge.to] < layer[edge.from] + 1 {
                layer[edge.to] = layer[edge.from] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let deepest = layer.iter().copied().max().unwrap_or(0);
    for (i, node) in graph.nodes.iter().enumerate() {
        if matches!(node.kind, NodeKind::Stop | NodeKind::Caller) {
            layer[i] = deepest.max(layer[i]);
        }
    }
    let layers = deepest + 1;
    let mut rows: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (i, &l) in layer.iter().enumerate() {
        rows[l].push(i);
    }
    // Order each layer by the mean position of its predecessors, twice.
    for _ in 0..2 {
        for l in 1..layers {
            let position = |node: usize, rows: &Vec<Vec<usize>>| {
                rows[layer[node]].iter().position(|&m| m == node).unwrap_or(0) as f64
            };
            let mut keyed: Vec<(f64, usize)> = rows[l]
                .iter()
                .map(|&node| {
                    let preds: Vec<f64> = graph
                        .edges
                        .iter()
                        .filter(|e| e.to == node && layer[e.from] < l)
                        .map(|e| position(e.from, &rows))
                        .collect();
                    let key = if preds.is_empty() {
                        f64::MAX
                    } else {
                        preds.iter().sum::<f64>() / preds.len() as f64
                    };
                    (key, node)
                })
                .collect();
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            rows[l] = keyed.into_iter().map(|(_, node)| node).collect();
        }
    }
    let size = |i: usize| (graph.nodes[i].label.chars().count() as f64 * CHAR_WIDTH + 28.0, NODE_HEIGHT);
    let row_width = |row: &Vec<usize>| {
        row.iter().map(|&i| size(i).0).sum::<f64>() + NODE_GAP * row.len().saturating_sub(1) as f64
    };
    let width = rows.iter().map(row_width).fold(0.0, f64::max) + 2.0 * MARGIN + 48.0;
    let mut nodes = vec![Placed { x: 0.0, y: 0.0, width: 0.0, height: 0.0, layer: 0 }; n];
    for (l, row) in rows.iter().enumerate() {
        let mut x = (width - 48.0 - row_width(row)) / 2.0;
        let y = MARGIN + NODE_HEIGHT / 2.0 + l as f64 * (NODE_HEIGHT + LAYER_GAP);
        for &i in row {
            let (w, h) = size(i);
            nodes[i] = Placed { x: x + w / 2.0, y, width: w, height: h, layer: l };
            x += w + NODE_GAP;
        }
    }
    let height = 2.0 * MARGIN + layers as f64 * NODE_HEIGHT + (layers - 1) as f64 * LAYER_GAP;
    Layout { nodes, width, height }
}

/// Marks the edges that close a cycle in a depth-first search from the
/// start node (then from any node not yet seen).
pub(crate) fn back_edges(graph: &Graph) -> Vec<bool> {
    let n = graph.nodes.len();
    let mut state = vec![0u8; n]; // 0 new, 1 on the stack, 2 done
    let mut back = vec![false; graph.edges.len()];
    let mut roots: Vec<usize> = (0..n).filter(|&i| graph.nodes[i].kind == NodeKind::Start).collect();
    roots.extend(0..n);
    for root in roots {
        if state[root] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            let outgoing: Vec<usize> =
                (0..graph.edges.len()).filter(|&e| graph.edges[e].from == node).collect();
            if let Some(&edge) = outgoing.get(*next) {
                *next += 1;
                let to = graph.edges[edge].to;
                match state[to] {
                    0 => {
                        state[to] = 1;
                        stack.push((to, 0));
                    }
                    1 => back[edge] = true,
                    _ => {}
                }
            } else {
                state[node] = 2;
                stack.pop();
            }
        }
    }
    back
}

#[cfg(test)]
mod tests {
    use crate::tests::sample;

    #[test]
    fn layers_follow_the_flow_and_loops_do_not_push_nodes_down() {
        let layout = sample().layout();
        let layers: Vec<usize> = layout.nodes.iter().map(|p| p.layer).collect();
        // Start 0, retrieve 1, Retrieved 2, answer 3, Progress 4, Stop 4, caller 5.
        assert_eq!(layers, [0, 2, 4, 5, 1, 3, 5]);
        assert!(layout
            .nodes
            .iter()
            .all(|p| p.x - p.width / 2.0 >= 0.0 && p.x + p.width / 2.0 <= layout.width));
    }
}
