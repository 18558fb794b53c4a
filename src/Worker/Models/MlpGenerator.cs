using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Models;

/// <summary>Fully connected G: [z; embed(label)] → (Linear, ReLU) x layers → Linear, reshaped to the sample shape.</summary>
public sealed class MlpGenerator : GanGenerator
{
    private readonly Embedding? embedding;
    private readonly Sequential body;
    private readonly long[] _sampleShape;
    private readonly bool _tanh;

    /// <param name="tanhOutput">Images live in [-1, 1]; 2-D points are unbounded.</param>
    public MlpGenerator(int latentDim, long[] sampleShape, int hidden, int layers, int classCount, bool conditional, bool tanhOutput)
        : base(nameof(MlpGenerator))
    {
        _sampleShape = sampleShape;
        _tanh = tanhOutput;
        int input = latentDim;
        if (conditional)
        {
            embedding = nn.Embedding(classCount, classCount);
            input += classCount;
        }
        var modules = new List<(string, nn.Module<Tensor, Tensor>)>();
        for (int i = 0; i < layers; i++)
        {
            modules.Add(($"linear{i}", nn.Linear(i == 0 ? input : hidden, hidden)));
            modules.Add(($"relu{i}", nn.ReLU()));
        }
        long outputs = sampleShape.Aggregate(1L, (a, b) => a * b);
        modules.Add(("output", nn.Linear(layers == 0 ? input : hidden, outputs)));
        if (tanhOutput) modules.Add(("tanh", nn.Tanh()));
        body = nn.Sequential(modules);
        RegisterComponents();
    }

    public override bool Conditional => embedding is not null;

    public override Tensor forward(Tensor z, Tensor labels)
    {
        using var input = embedding is null ? z.alias() : torch.cat([z, embedding.call(labels)], 1);
        var flat = body.call(input);
        return flat.view([z.shape[0], .. _sampleShape]);
    }
}
