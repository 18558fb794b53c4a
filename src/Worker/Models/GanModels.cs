using Orchestrator.Shared.Specs;

namespace Orchestrator.Worker.Models;

/// <summary>Builds G and D for a trial from its model spec and the data's shape.</summary>
public static class GanModels
{
    public static (GanGenerator Generator, GanDiscriminator Discriminator) Create(TrialSpec spec, long[] sampleShape, int classCount)
    {
        var m = spec.Model;
        var norm = Norms.Resolve(m, spec.Loss);
        bool image = sampleShape.Length == 3;
        if (m.Architecture == Architectures.Dcgan)
        {
            if (!image) throw new ArgumentException($"dcgan needs image data, got samples shaped [{string.Join(", ", sampleShape)}]");
            int channels = (int)sampleShape[0];
            return (new DcganGenerator(spec.Latent.Dim, channels, m.ImageSize, m.Features, classCount, m.Conditional),
                    new DcganDiscriminator(channels, m.ImageSize, m.Features, classCount, m.Conditional, norm));
        }
        return (new MlpGenerator(spec.Latent.Dim, sampleShape, m.Hidden, m.Layers, classCount, m.Conditional, tanhOutput: image),
                new MlpDiscriminator(sampleShape, m.Hidden, m.Layers, classCount, m.Conditional, norm));
    }
}
