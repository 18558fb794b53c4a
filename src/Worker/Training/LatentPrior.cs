using Orchestrator.Shared.Specs;
using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Training;

/// <summary>
/// The distribution G's latent codes come from. Samples are drawn on the CPU from an explicit generator, so a
/// trial's noise depends only on its seed and checkpointed generator state, whatever the device.
/// </summary>
public sealed class LatentPrior : IDisposable
{
    private readonly LatentSpec _spec;
    private readonly Tensor? _centres;

    public LatentPrior(LatentSpec spec, int seed)
    {
        _spec = spec;
        if (spec.Prior == Priors.Mixture)
        {
            // Centres are part of the prior's definition, derived from the seed, never trained or checkpointed.
            using var g = new Generator((ulong)seed ^ 0x9E3779B97F4A7C15UL);
            _centres = torch.randn([spec.MixtureComponents, spec.Dim], generator: g);
        }
    }

    public int Dim => _spec.Dim;

    public Tensor Sample(long count, Generator generator)
    {
        using var scope = torch.NewDisposeScope();
        Tensor z = _spec.Prior switch
        {
            Priors.Normal => torch.randn([count, _spec.Dim], generator: generator),
            Priors.Uniform => torch.rand([count, _spec.Dim], generator: generator) * 2 - 1,
            Priors.TruncatedNormal => TruncatedNormal(count, generator),
            Priors.Mixture => Mixture(count, generator),
            _ => throw new ArgumentOutOfRangeException(nameof(_spec), _spec.Prior, $"unknown prior; allowed: {string.Join(", ", Priors.All)}"),
        };
        return z.MoveToOuterDisposeScope();
    }

    private Tensor TruncatedNormal(long count, Generator generator)
    {
        // Rejection sampling: redraw only the entries outside the bound until none is left.
        var z = torch.randn([count, _spec.Dim], generator: generator);
        while (true)
        {
            var outside = z.abs().gt(_spec.Truncation);
            if (!outside.any().item<bool>()) return z;
            z = torch.where(outside, torch.randn([count, _spec.Dim], generator: generator), z);
        }
    }

    private Tensor Mixture(long count, Generator generator)
    {
        var component = torch.randint(_spec.MixtureComponents, [count], generator: generator);
        var noise = torch.randn([count, _spec.Dim], generator: generator);
        return _centres!.index_select(0, component) + _spec.MixtureStd * noise;
    }

    public void Dispose() => _centres?.Dispose();
}
