using Google.Protobuf;
using Google.Protobuf.Reflection;
using Orchestrator.Shared.Specs;
using static Orchestrator.Shared.Tests.Specs.SpecAssert;

namespace Orchestrator.Shared.Tests.Specs;

public sealed class TrialSpecProtoTests
{
    [Theory]
    [InlineData(SampleTrials.Full)]
    [InlineData("trial: {}")]
    [InlineData("trial: {loss: {type: wgan, clip_value: 0.05}, optimizer: {generator: {type: rmsprop, alpha: 0.95}}}")]
    [InlineData("trial: {loss: {type: least_squares, real_label: 0.9}, data: {dataset: grid25}, latent: {prior: mixture}}")]
    [InlineData("trial: {model: {image_size: 28, conditional: false}, training: {threads: 0}, loss: {real_label: 1.0}}")]
    public void Yaml_to_record_to_proto_bytes_to_record_is_lossless(string yaml)
    {
        var spec = TrialSpecReader.FromYaml(yaml);

        var wire = Protos.TrialSpec.Parser.ParseFrom(spec.ToProto().ToByteArray());

        Assert.Equal(spec, TrialSpecProto.FromProto(wire));
    }

    [Fact]
    public void Empty_proto_is_the_default_trial()
    {
        Assert.Equal(new TrialSpec(), TrialSpecProto.FromProto(new Protos.TrialSpec()));
    }

    [Fact]
    public void Only_fields_that_differ_from_their_defaults_go_on_the_wire()
    {
        var spec = new TrialSpec
        {
            Seed = 9,
            Loss = new LossSpec { Type = LossTypes.Wgan },
            Training = new TrainingSpec { GradClip = 2 },
        };

        Assert.Equal(["loss.type", "seed", "training.grad_clip"], SetScalars(spec.ToProto()).Order());
    }

    [Fact]
    public void Zero_learning_rate_on_the_wire_is_rejected_naming_the_field()
    {
        var proto = new Protos.TrialSpec
        {
            Optimizer = new Protos.OptimizersSpec { Generator = new Protos.OptimizerSpec { Lr = 0 } },
        };

        var error = RejectsOnly(() => TrialSpecProto.FromProto(proto), "trial.optimizer.generator.lr");

        Assert.Equal("must be > 0 and <= 10, got 0", error.Message);
    }

    [Fact]
    public void Unknown_loss_on_the_wire_is_rejected_listing_the_allowed_losses()
    {
        var proto = new Protos.TrialSpec { Loss = new Protos.LossSpec { Type = "vanilla" } };

        var error = RejectsOnly(() => TrialSpecProto.FromProto(proto), "trial.loss.type");

        Assert.Equal("unknown value 'vanilla'; allowed: bce_minimax, bce_nonsaturating, wgan, wgan_gp, hinge, least_squares", error.Message);
    }

    [Fact]
    public void Explicitly_set_default_counts_as_given_on_the_wire_as_in_yaml()
    {
        var proto = new Protos.TrialSpec { Loss = new Protos.LossSpec { Type = "wgan", RealLabel = 1.0 } };

        RejectsOnly(() => TrialSpecProto.FromProto(proto), "trial.loss.real_label");
    }

    [Theory]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "Infinity")]
    public void Non_finite_number_on_the_wire_is_rejected(double value, string text)
    {
        var proto = new Protos.TrialSpec { Latent = new Protos.LatentSpec { MixtureStd = value } };

        var error = RejectsOnly(() => TrialSpecProto.FromProto(proto), "trial.latent.mixture_std");

        Assert.Equal($"must be a finite number, got {text}", error.Message);
    }

    [Fact]
    public void Wire_errors_are_named_below_the_given_path()
    {
        var proto = new Protos.TrialSpec { Data = new Protos.DataSpec { Dataset = "mnist" } };

        RejectsOnly(() => TrialSpecProto.FromProto(proto, "sweep.trial"), "sweep.trial.data.path");
    }

    // YAML is a superset of JSON, so one JSON text is both a trial file's body and a proto in its
    // JSON form: both ways in must report the same problems, word for word.
    [Theory]
    [InlineData("""{"optimizer": {"generator": {"lr": 0}}}""")]
    [InlineData("""{"optimizer": {"generator": {"lr": "NaN"}}}""")]
    [InlineData("""{"loss": {"type": "vanilla"}}""")]
    [InlineData("""{"loss": {"type": "wgan", "real_label": 1.0}}""")]
    [InlineData("""{"loss": {"type": "wgan_gp", "clip_value": 0.01, "gp_lambda": -1}}""")]
    [InlineData("""{"optimizer": {"discriminator": {"type": "rmsprop", "beta1": 0.5}, "generator": {"alpha": 0.9}}}""")]
    [InlineData("""{"data": {"dataset": "mnist"}}""")]
    [InlineData("""{"data": {"path": "/data", "batch_size": 0}}""")]
    [InlineData("""{"data": {"batch_size": 256, "global_batch_size": 64}}""")]
    [InlineData("""{"model": {"architecture": "dcgan"}}""")]
    [InlineData("""{"model": {"image_size": 32, "discriminator_norm": "batch"}, "loss": {"type": "wgan_gp"}}""")]
    [InlineData("""{"evaluation": {"grid_samples": 50, "samples": 9}}""")]
    [InlineData("""{"adaptive_lr": {"target_low": 0.8, "min_lr": 0.1}}""")]
    [InlineData("""{"device": "tpu", "kind": "vae", "seed": -1}""")]
    [InlineData("""{"latent": {"prior": "cauchy", "truncation": -1}, "training": {"n_critic": 0, "grad_clip": 0}}""")]
    public void Wire_and_yaml_report_the_same_problems_for_the_same_input(string json)
    {
        var fromYaml = Rejects(() => TrialSpecReader.FromYaml($"trial: {json}"));
        var fromWire = Rejects(() => TrialSpecProto.FromProto(JsonParser.Default.Parse<Protos.TrialSpec>(json)));

        Assert.Equal(Sorted(fromYaml), Sorted(fromWire));
    }

    [Fact]
    public void Proto_field_names_are_the_yaml_keys_in_every_section()
    {
        var checkedSections = 0;
        foreach (var (path, message) in Sections(Protos.TrialSpec.Descriptor, ""))
        {
            // The reader's unknown-key error lists the keys it knows for that section.
            var yaml = "trial:\n" + string.Concat(path.Split('.', StringSplitOptions.RemoveEmptyEntries)
                .Select((key, depth) => $"{new string(' ', 2 * (depth + 1))}{key}:\n"));
            yaml += $"{new string(' ', 2 * (path.Split('.', StringSplitOptions.RemoveEmptyEntries).Length + 1))}not_a_key: 1\n";
            var error = RejectsOnly(() => TrialSpecReader.FromYaml(yaml), "trial." + (path.Length == 0 ? "" : path + ".") + "not_a_key");
            var yamlKeys = error.Message["unknown key; allowed keys: ".Length..].Split(", ");

            Assert.Equal(message.Fields.InDeclarationOrder().Select(f => f.Name), yamlKeys);
            checkedSections++;
        }
        // 11 GAN sections plus sleep and quadratic.
        Assert.Equal(13, checkedSections);
    }

    private static IEnumerable<(string Path, MessageDescriptor Message)> Sections(MessageDescriptor message, string path)
    {
        yield return (path, message);
        foreach (var field in message.Fields.InDeclarationOrder().Where(f => f.FieldType == FieldType.Message))
        {
            foreach (var section in Sections(field.MessageType, path.Length == 0 ? field.Name : $"{path}.{field.Name}"))
                yield return section;
        }
    }

    private static IEnumerable<string> SetScalars(IMessage message, string prefix = "")
    {
        foreach (var field in message.Descriptor.Fields.InDeclarationOrder())
        {
            if (!field.Accessor.HasValue(message)) continue;
            if (field.FieldType != FieldType.Message)
            {
                yield return prefix + field.Name;
                continue;
            }
            foreach (var nested in SetScalars((IMessage)field.Accessor.GetValue(message), $"{prefix}{field.Name}."))
                yield return nested;
        }
    }

    private static IEnumerable<string> Sorted(IEnumerable<SpecError> errors) =>
        errors.Select(e => e.ToString()).Order();
}
