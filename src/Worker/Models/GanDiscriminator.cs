using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Models;

/// <summary>Scores samples (and their labels, when conditional): one raw score per sample, shape [N].</summary>
public abstract class GanDiscriminator(string name) : nn.Module<Tensor, Tensor, Tensor>(name)
{
    public abstract bool Conditional { get; }
}
