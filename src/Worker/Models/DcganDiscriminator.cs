using Orchestrator.Shared.Specs;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Models;

/// <summary>
/// DCGAN D: strided convolutions with LeakyReLU 0.2 and the chosen normalization (none on the first layer),
/// ending in one raw score. Conditional: the label's embedding is painted as one extra input channel.
/// </summary>
public sealed class DcganDiscriminator : GanDiscriminator
{
    private readonly Embedding? embedding;
    private readonly Sequential body;
    private readonly int _imageSize;

    public DcganDiscriminator(int channels, int imageSize, int features, int classCount, bool conditional, string norm)
        : base(nameof(DcganDiscriminator))
    {
        _imageSize = imageSize;
        int input = channels;
        if (conditional)
        {
            embedding = nn.Embedding(classCount, imageSize * imageSize);
            input += 1;
        }
        int f = features;
        var modules = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("down0", nn.Conv2d(input, f, 4, 2, 1, bias: false)),
            ("act0", new LeakyRelu(0.2)),
        };
        // (out channels, spatial size after the conv) of each normalized block.
        (int Channels, int Side)[] blocks = imageSize == 28
            ? [(2 * f, 7)]
            : [(2 * f, 16), (4 * f, 8), (8 * f, 4)];
        int inChannels = f;
        for (int i = 0; i < blocks.Length; i++)
        {
            var (c, _) = blocks[i];
            modules.Add(($"down{i + 1}", nn.Conv2d(inChannels, c, 4, 2, 1, bias: false)));
            switch (norm)
            {
                case Norms.Batch: modules.Add(($"norm{i + 1}", nn.BatchNorm2d(c))); break;
                // GroupNorm with one group normalizes each sample over (C, H, W): layer norm for conv maps.
                case Norms.Layer: modules.Add(($"norm{i + 1}", nn.GroupNorm(1, c))); break;
            }
            modules.Add(($"act{i + 1}", new LeakyRelu(0.2)));
            inChannels = c;
        }
        int last = blocks[^1].Side;
        modules.Add(("score", nn.Conv2d(inChannels, 1, last, 1, 0, bias: false)));
        body = nn.Sequential(modules);
        RegisterComponents();
        DcganInit.Apply(this);
    }

    public override bool Conditional => embedding is not null;

    public override Tensor forward(Tensor x, Tensor labels)
    {
        using var input = embedding is null
            ? x.alias()
            : torch.cat([x, embedding.call(labels).view(x.shape[0], 1, _imageSize, _imageSize)], 1);
        using var scores = body.call(input);
        return scores.view(x.shape[0]);
    }
}
