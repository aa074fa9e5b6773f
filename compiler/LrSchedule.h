#pragma once
// The learning rate at a step, from the train block's schedule, as a Halide expression: the
// train step computes it from its step argument, so the JIT and the AOT object agree.
//
// With warmup W > 0, steps t < W use lr * (t + 1) / W; afterwards the schedule runs on
// u = t - W over T = steps - W (steps: the schedule's `steps`, else the whole run):
//   constant     lr
//   step         lr * gamma^floor(u / step_size)
//   multistep    lr * gamma^(milestones <= u)
//   exponential  lr * gamma^u
//   polynomial   end_lr + (lr - end_lr) * (1 - min(u, T) / T)^power
//   cosine       min_lr + (lr - min_lr) * (1 + cos(pi * min(u, T) / T)) / 2; with restarts, u and
//                T are the position in and length of the current cycle (restart_period,
//                each cycle restart_mult times longer than the last)
//   linear       lr * (1 - (1 - end_factor) * min(u, T) / T)
//   inverse_sqrt lr * sqrt(max(W, 1) / (t + 1))

#include "compiler/Graph.h"

#include <Halide.h>

namespace netc {

/// Float(32) learning rate at `step` (an integer Expr, 0 for the first step). `total_steps` (an
/// integer Expr) is the length of the whole run, used when the schedule has no `steps` of its own.
Halide::Expr learning_rate(const TrainSettings &train, const Halide::Expr &step,
                           const Halide::Expr &total_steps);

/// The optimizer's base learning rate (its `lr` attribute).
double base_learning_rate(const TrainSettings &train);

/// True when the schedule needs the run's length (cosine, linear, polynomial without `steps`).
bool schedule_needs_total_steps(const TrainSettings &train);

}  // namespace netc
