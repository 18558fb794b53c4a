using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Orchestrator.Worker.Models;

/// <summary>
/// DCGAN G (Radford et al. 2015): transposed convolutions with BatchNorm and ReLU, Tanh output.
/// 28x28: 1→7→14→28; 64x64: 1→4→8→16→32→64. Conditional: a label embedding joins z as extra channels.
/// </summary>
public sealed class DcganGenerator : GanGenerator
{
    private readonly Embedding? embedding;
    private readonly Sequential body;

    public DcganGenerator(int latentDim, int channels, int imageSize, int features, int classCount, bool conditional)
        : base(nameof(DcganGenerator))
    {
        int input = latentDim;
        if (conditional)
        {
            embedding = nn.Embedding(classCount, classCount);
            input += classCount;
        }
        int f = features;
        body = imageSize switch
        {
            28 => nn.Sequential(
                ("up0", nn.ConvTranspose2d(input, 4 * f, 7, 1, 0, bias: false)),
                ("bn0", nn.BatchNorm2d(4 * f)),
                ("relu0", nn.ReLU()),
                ("up1", nn.ConvTranspose2d(4 * f, 2 * f, 4, 2, 1, bias: false)),
                ("bn1", nn.BatchNorm2d(2 * f)),
                ("relu1", nn.ReLU()),
                ("up2", nn.ConvTranspose2d(2 * f, channels, 4, 2, 1, bias: false)),
                ("tanh", nn.Tanh())),
            64 => nn.Sequential(
                ("up0", nn.ConvTranspose2d(input, 8 * f, 4, 1, 0, bias: false)),
                ("bn0", nn.BatchNorm2d(8 * f)),
                ("relu0", nn.ReLU()),
                ("up1", nn.ConvTranspose2d(8 * f, 4 * f, 4, 2, 1, bias: false)),
                ("bn1", nn.BatchNorm2d(4 * f)),
                ("relu1", nn.ReLU()),
                ("up2", nn.ConvTranspose2d(4 * f, 2 * f, 4, 2, 1, bias: false)),
                ("bn2", nn.BatchNorm2d(2 * f)),
                ("relu2", nn.ReLU()),
                ("up3", nn.ConvTranspose2d(2 * f, f, 4, 2, 1, bias: false)),
                ("bn3", nn.BatchNorm2d(f)),
                ("relu3", nn.ReLU()),
                ("up4", nn.ConvTranspose2d(f, channels, 4, 2, 1, bias: false)),
                ("tanh", nn.Tanh())),
            _ => throw new ArgumentOutOfRangeException(nameof(imageSize), imageSize, "DCGAN supports 28 and 64"),
        };
        RegisterComponents();
        DcganInit.Apply(this);
    }

    public override bool Conditional => embedding is not null;

    public override Tensor forward(Tensor z, Tensor labels)
    {
        using var joined = embedding is null ? z.alias() : torch.cat([z, embedding.call(labels)], 1);
        using var input = joined.view(joined.shape[0], joined.shape[1], 1, 1);
        return body.call(input);
    }
}
