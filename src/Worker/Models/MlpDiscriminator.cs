using Orchestrator.Shared.Specs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Models;

/// <summary>Fully connected D: [flatten(x); embed(label)] → (Linear, norm, LeakyReLU 0.2) x layers → Linear(1).</summary>
public sealed class MlpDiscriminator : GanDiscriminator
{
    private readonly Embedding? embedding;
    private readonly Sequential body;

    public MlpDiscriminator(long[] sampleShape, int hidden, int layers, int classCount, bool conditional, string norm)
        : base(nameof(MlpDiscriminator))
    {
        long input = sampleShape.Aggregate(1L, (a, b) => a * b);
        if (conditional)
        {
            embedding = nn.Embedding(classCount, classCount);
            input += classCount;
        }
        var modules = new List<(string, nn.Module<Tensor, Tensor>)>();
        for (int i = 0; i < layers; i++)
        {
            modules.Add(($"linear{i}", nn.Linear(i == 0 ? input : hidden, hidden)));
            switch (norm)
            {
                case Norms.Batch: modules.Add(($"norm{i}", nn.BatchNorm1d(hidden))); break;
                case Norms.Layer: modules.Add(($"norm{i}", nn.LayerNorm(hidden))); break;
            }
            modules.Add(($"act{i}", new LeakyRelu(0.2)));
        }
        modules.Add(("output", nn.Linear(layers == 0 ? input : hidden, 1)));
        body = nn.Sequential(modules);
        RegisterComponents();
    }

    public override bool Conditional => embedding is not null;

    public override Tensor forward(Tensor x, Tensor labels)
    {
        using var flat = x.flatten(1);
        using var input = embedding is null ? flat.alias() : torch.cat([flat, embedding.call(labels)], 1);
        using var scores = body.call(input);
        return scores.squeeze(1);
    }
}
