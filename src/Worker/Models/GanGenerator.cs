using TorchSharp;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Models;

/// <summary>Maps latent codes (and class labels, when conditional) to samples shaped like the data.</summary>
public abstract class GanGenerator(string name) : nn.Module<Tensor, Tensor, Tensor>(name)
{
    /// <summary>Whether forward reads the labels argument.</summary>
    public abstract bool Conditional { get; }
}
