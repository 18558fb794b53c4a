using TorchSharp;
using Orchestrator.Worker.Data;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Losses;

/// <summary>
/// WGAN-GP's penalty (Gulrajani et al. 2017): E[(‖∇x̂ D(x̂)‖₂ − 1)²] at x̂ = εx + (1 − ε)x̃, ε ~ U[0, 1] per sample.
/// The gradient is taken with create_graph so the penalty itself back-propagates into D.
/// </summary>
public static class GradientPenalty
{
    /// <param name="rows">In a data-parallel group: this rank's rows of the global batch. The interpolation weights
    /// are drawn for the group's whole batch and this rank keeps its rows, as for the latent noise, so data-parallel
    /// runs match one process. Null: the whole batch is this process's.</param>
    public static Tensor Compute(Func<Tensor, Tensor> critic, Tensor real, Tensor fake, Generator? generator = null,
        BatchRows? rows = null)
    {
        if (rows is { } r && r.Count != real.shape[0])
            throw new ArgumentException($"rows select {r.Count} of the global batch but the batch holds {real.shape[0]}", nameof(rows));
        using var scope = torch.NewDisposeScope();
        var shape = new long[real.dim()];
        Array.Fill(shape, 1L);
        shape[0] = rows?.Total ?? real.shape[0];
        // Drawn on the CPU from the trial's generator so the draw is the same on every device, then moved.
        var epsilon = torch.rand(shape, dtype: real.dtype, generator: generator);
        if (rows is { IsAll: false } group) epsilon = group.Select(epsilon);
        epsilon = epsilon.to(real.device);
        var mixed = (epsilon * real.detach() + (1 - epsilon) * fake.detach()).requires_grad_(true);
        var scores = critic(mixed);
        // autograd.grad's results are not owned by the dispose scope; with create_graph each one keeps the whole
        // double-backward graph alive, so it is disposed explicitly (measured: ~0.8 MB leaked per step otherwise).
        var gradients = torch.autograd.grad([scores.sum()], [mixed], retain_graph: true, create_graph: true);
        try
        {
            var norms = gradients[0].flatten(1).norm(1, keepdim: false, p: 2);
            return (norms - 1).square().mean().MoveToOuterDisposeScope();
        }
        finally
        {
            foreach (var g in gradients) g.Dispose();
        }
    }
}
