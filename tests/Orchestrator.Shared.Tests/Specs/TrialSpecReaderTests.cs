using Orchestrator.Shared.Specs;
using static Orchestrator.Shared.Tests.Specs.SampleTrials;
using static Orchestrator.Shared.Tests.Specs.SpecAssert;

namespace Orchestrator.Shared.Tests.Specs;

public sealed class TrialSpecReaderTests
{
    private static TrialSpec Read(string yaml) => TrialSpecReader.FromYaml(yaml);

    [Fact]
    public void Full_trial_reads_every_section_into_the_record()
    {
        Assert.Equal(FullRecord, Read(Full));
    }

    [Theory]
    [InlineData("trial: {}")]
    [InlineData("trial:")]
    [InlineData("trial:\n  data: {}\n  loss:\n  optimizer: {generator: {}}\n")]
    public void Absent_sections_and_keys_take_their_defaults(string yaml)
    {
        var spec = Read(yaml);

        Assert.Equal(new TrialSpec(), spec);
        // The defaults themselves, so that a changed default shows up here and not first in a sweep.
        Assert.Equal(("ring8", 256), (spec.Data.Dataset, spec.Data.BatchSize));
        Assert.Equal(("mlp", "bce_nonsaturating", "normal"), (spec.Model.Architecture, spec.Loss.Type, spec.Latent.Prior));
        Assert.Equal(("adam", 2e-4, 0.5, 0.999), (spec.Optimizer.Generator.Type, spec.Optimizer.Generator.Lr, spec.Optimizer.Generator.Beta1, spec.Optimizer.Generator.Beta2));
        Assert.Null(spec.Training.GradClip);
        Assert.Null(spec.Data.Path);
        Assert.Equal(64, spec.Evaluation.GridSamples);
    }

    [Fact]
    public void Partial_section_keeps_the_defaults_of_the_keys_it_leaves_out()
    {
        var spec = Read(Trial("{optimizer: {generator: {lr: 0.001}}, training: {steps: 10}}"));

        Assert.Equal(new OptimizerSpec { Lr = 0.001 }, spec.Optimizer.Generator);
        Assert.Equal(new OptimizerSpec(), spec.Optimizer.Discriminator);
        Assert.Equal(new TrainingSpec { Steps = 10 }, spec.Training);
    }

    [Theory]
    [InlineData("wgan", "clip_value", 0.05)]
    [InlineData("wgan_gp", "gp_lambda", 0)]
    [InlineData("least_squares", "real_label", 0.9)]
    [InlineData("bce_minimax", "real_label", 0.9)]
    [InlineData("bce_nonsaturating", "real_label", 1.0)]
    public void Loss_option_is_read_for_a_loss_that_uses_it(string type, string key, double value)
    {
        var loss = Read(Trial($"{{loss: {{type: {type}, {key}: {value}}}}}")).Loss;

        var expected = key switch
        {
            "clip_value" => new LossSpec { Type = type, ClipValue = value },
            "gp_lambda" => new LossSpec { Type = type, GpLambda = value },
            _ => new LossSpec { Type = type, RealLabel = value },
        };
        Assert.Equal(expected, loss);
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("cuda")]
    [InlineData("cuda:0")]
    [InlineData("cuda:15")]
    [InlineData("auto")]
    public void Known_device_names_are_accepted(string device)
    {
        Assert.Equal(device, Read($"trial:\n  device: {device}\n").Device);
    }

    [Fact]
    public void Invalid_yaml_is_reported_with_its_line_and_column()
    {
        var error = RejectsOnly(() => TrialSpecReader.FromYaml("trial:\n  seed: 1\n  data: {batch_size: 2\n", "runs/a.yaml"), "runs/a.yaml");

        Assert.StartsWith("invalid YAML at line 4, column 1:", error.Message);
    }

    [Theory]
    [InlineData("- seed: 1\n- seed: 2\n")]
    [InlineData("just some text")]
    [InlineData("")]
    [InlineData("# only a comment\n")]
    public void Document_whose_root_is_not_a_mapping_is_rejected(string yaml)
    {
        var error = RejectsOnly(() => Read(yaml), "trial");

        Assert.Equal("must be a YAML mapping", error.Message);
    }

    [Fact]
    public void Document_without_a_trial_block_is_rejected()
    {
        var error = RejectsOnly(() => Read("{}"), "trial");

        Assert.StartsWith("missing", error.Message);
    }

    [Fact]
    public void Unknown_top_level_key_is_rejected_naming_trial_as_the_only_key()
    {
        var error = RejectsOnly(() => Read("trial: {}\nsweep: {}\n"), "sweep");

        Assert.Equal("unknown key; allowed keys: trial", error.Message);
    }

    [Theory]
    [InlineData("{epochs: 3}", "trial.epochs",
        "kind, seed, device, data, model, latent, loss, optimizer, training, adaptive_lr, evaluation, sleep, quadratic")]
    [InlineData("{loss: {typ: wgan}}", "trial.loss.typ", "type, real_label, gp_lambda, clip_value")]
    [InlineData("{optimizer: {adam: {}}}", "trial.optimizer.adam", "generator, discriminator")]
    [InlineData("{optimizer: {generator: {learning_rate: 0.1}}}", "trial.optimizer.generator.learning_rate",
        "type, lr, beta1, beta2, alpha, weight_decay")]
    [InlineData("{evaluation: {grid: 16}}", "trial.evaluation.grid", "samples, grid_samples, classifier_cache")]
    public void Unknown_nested_key_is_rejected_listing_the_allowed_keys(string body, string field, string allowed)
    {
        var error = RejectsOnly(() => Read(Trial(body)), field);

        Assert.Equal($"unknown key; allowed keys: {allowed}", error.Message);
    }

    [Theory]
    [InlineData("{seed: abc}", "trial.seed", "must be an integer, got 'abc'")]
    [InlineData("{data: {batch_size: 1.5}}", "trial.data.batch_size", "must be an integer, got '1.5'")]
    [InlineData("{data: [ring8, 256]}", "trial.data", "must be a mapping of keys, got a list")]
    [InlineData("{optimizer: {generator: 0.001}}", "trial.optimizer.generator", "must be a mapping of keys, got '0.001'")]
    [InlineData("{loss: {type: [wgan]}}", "trial.loss.type",
        "must be a string; allowed: bce_minimax, bce_nonsaturating, wgan, wgan_gp, hinge, least_squares, got a list")]
    [InlineData("{device: [cpu]}", "trial.device", "must be a string, got a list")]
    [InlineData("{data: {path: {dir: /x}}}", "trial.data.path", "must be a string, got a mapping")]
    [InlineData("{optimizer: {generator: {lr: fast}}}", "trial.optimizer.generator.lr", "must be a number, got 'fast'")]
    [InlineData("{model: {conditional: maybe}}", "trial.model.conditional", "must be true or false, got 'maybe'")]
    public void Value_of_the_wrong_type_is_rejected_naming_the_field(string body, string field, string message)
    {
        var error = RejectsOnly(() => Read(Trial(body)), field);

        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("generator", "0")]
    [InlineData("generator", "0.0")]
    [InlineData("generator", "-0.001")]
    [InlineData("discriminator", "-1e-3")]
    public void Non_positive_learning_rate_is_rejected_naming_the_field_and_the_bound(string network, string lr)
    {
        var error = RejectsOnly(() => Read(Trial($"{{optimizer: {{{network}: {{lr: {lr}}}}}}}")), $"trial.optimizer.{network}.lr");

        Assert.StartsWith("must be > 0 and <= 10, got ", error.Message);
    }

    [Fact]
    public void Zero_batch_size_is_rejected_with_its_bounds()
    {
        var error = RejectsOnly(() => Read(Trial("{data: {batch_size: 0}}")), "trial.data.batch_size");

        Assert.Equal("must be between 1 and 1048576, got 0", error.Message);
    }

    [Theory]
    [InlineData("{seed: -1}", "trial.seed", "must be >= 0, got -1")]
    [InlineData("{optimizer: {generator: {lr: 11}}}", "trial.optimizer.generator.lr", "must be > 0 and <= 10, got 11")]
    [InlineData("{optimizer: {generator: {weight_decay: -0.1}}}", "trial.optimizer.generator.weight_decay", "must be >= 0, got -0.1")]
    [InlineData("{optimizer: {generator: {beta2: 1}}}", "trial.optimizer.generator.beta2", "must be < 1")]
    [InlineData("{training: {n_critic: 101}}", "trial.training.n_critic", "must be between 1 and 100, got 101")]
    [InlineData("{training: {grad_clip: 0}}", "trial.training.grad_clip", "must be > 0, got 0")]
    [InlineData("{loss: {type: least_squares, real_label: 0}}", "trial.loss.real_label", "must be > 0 and <= 1, got 0")]
    [InlineData("{evaluation: {samples: 9}}", "trial.evaluation.samples", "must be between 10 and 1000000, got 9")]
    [InlineData("{adaptive_lr: {factor: 1}}", "trial.adaptive_lr.factor", "must be > 1 and <= 10, got 1")]
    [InlineData("{data: {batch_size: 99999999999}}", "trial.data.batch_size", "must be between -2147483648 and 2147483647, got 99999999999")]
    public void Value_out_of_range_is_rejected_naming_the_bound(string body, string field, string message)
    {
        var error = RejectsOnly(() => Read(Trial(body)), field);

        Assert.Equal(message, error.Message);
    }

    [Theory]
    [InlineData("{kind: vae}", "trial.kind", "vae", "gan, sleep, quadratic")]
    [InlineData("{device: tpu}", "trial.device", "tpu", "cpu, cuda, cuda:N, auto")]
    [InlineData("{device: 'cuda:1234'}", "trial.device", "cuda:1234", "cpu, cuda, cuda:N, auto")]
    [InlineData("{data: {dataset: cifar10}}", "trial.data.dataset", "cifar10", "ring8, grid25, mnist, mnist_subset")]
    [InlineData("{model: {architecture: resnet}}", "trial.model.architecture", "resnet", "mlp, dcgan")]
    [InlineData("{model: {image_size: 32}}", "trial.model.image_size", "32", "28, 64")]
    [InlineData("{model: {discriminator_norm: spectral}}", "trial.model.discriminator_norm", "spectral", "auto, batch, layer, none")]
    [InlineData("{latent: {prior: cauchy}}", "trial.latent.prior", "cauchy", "normal, uniform, truncated_normal, mixture")]
    [InlineData("{loss: {type: vanilla}}", "trial.loss.type", "vanilla",
        "bce_minimax, bce_nonsaturating, wgan, wgan_gp, hinge, least_squares")]
    [InlineData("{optimizer: {discriminator: {type: sgd}}}", "trial.optimizer.discriminator.type", "sgd", "adam, rmsprop")]
    [InlineData("{training: {batch_split: weighted}}", "trial.training.batch_split", "weighted", "even, by_speed")]
    public void Unknown_name_is_rejected_listing_the_allowed_values(string body, string field, string value, string allowed)
    {
        var error = RejectsOnly(() => Read(Trial(body)), field);

        Assert.Equal($"unknown value '{value}'; allowed: {allowed}", error.Message);
    }

    [Theory]
    [InlineData("{optimizer: {generator: {lr: .nan}}}", "trial.optimizer.generator.lr", ".nan")]
    [InlineData("{optimizer: {generator: {lr: .NaN}}}", "trial.optimizer.generator.lr", ".NaN")]
    [InlineData("{optimizer: {generator: {lr: NaN}}}", "trial.optimizer.generator.lr", "NaN")]
    [InlineData("{optimizer: {generator: {lr: .inf}}}", "trial.optimizer.generator.lr", ".inf")]
    [InlineData("{optimizer: {generator: {lr: +.Inf}}}", "trial.optimizer.generator.lr", "+.Inf")]
    [InlineData("{latent: {truncation: -.inf}}", "trial.latent.truncation", "-.inf")]
    [InlineData("{training: {grad_clip: .INF}}", "trial.training.grad_clip", ".INF")]
    [InlineData("{adaptive_lr: {max_lr: Infinity}}", "trial.adaptive_lr.max_lr", "Infinity")]
    public void Non_finite_number_is_rejected_as_not_finite(string body, string field, string text)
    {
        var error = RejectsOnly(() => Read(Trial(body)), field);

        Assert.Equal($"must be a finite number, got {text}", error.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("dataset: ring8")]
    [InlineData("dataset: grid25")]
    public void Dcgan_on_a_mixture_dataset_is_rejected(string data)
    {
        var error = RejectsOnly(() => Read(Trial($"{{data: {{{data}}}, model: {{architecture: dcgan}}}}")), "trial.model.architecture");

        Assert.Contains("dcgan needs an image dataset (mnist, mnist_subset)", error.Message);
        Assert.Contains("use mlp", error.Message);
    }

    [Fact]
    public void Dcgan_on_the_bundled_mnist_subset_is_accepted()
    {
        var spec = Read(Trial("{data: {dataset: mnist_subset}, model: {architecture: dcgan, image_size: 64}}"));

        Assert.Equal(("dcgan", 64), (spec.Model.Architecture, spec.Model.ImageSize));
    }

    [Fact]
    public void Mlp_asked_for_64_pixel_images_is_rejected()
    {
        var error = RejectsOnly(() => Read(Trial("{model: {image_size: 64}}")), "trial.model.image_size");

        Assert.Contains("only dcgan renders 64x64", error.Message);
    }

    [Fact]
    public void Wgan_gp_with_batch_norm_in_the_discriminator_is_rejected_listing_the_norms_that_work()
    {
        var error = RejectsOnly(
            () => Read(Trial("{data: {dataset: mnist_subset}, model: {architecture: dcgan, discriminator_norm: batch}, loss: {type: wgan_gp}}")),
            "trial.model.discriminator_norm");

        Assert.EndsWith("allowed: layer, none", error.Message);
    }

    [Theory]
    [InlineData("wgan", "0.9")]
    [InlineData("wgan_gp", "0.9")]
    [InlineData("hinge", "0.9")]
    [InlineData("wgan", "1.0")]
    public void Real_label_with_a_loss_that_has_no_labels_is_rejected_even_at_its_default(string type, string realLabel)
    {
        var error = RejectsOnly(() => Read(Trial($"{{loss: {{type: {type}, real_label: {realLabel}}}}}")), "trial.loss.real_label");

        Assert.Equal($"label smoothing applies to bce_minimax, bce_nonsaturating and least_squares, not {type}", error.Message);
    }

    [Theory]
    [InlineData("{loss: {gp_lambda: 10}}", "bce_nonsaturating")]
    [InlineData("{loss: {type: bce_minimax, gp_lambda: 5}}", "bce_minimax")]
    [InlineData("{loss: {type: wgan, gp_lambda: 5}}", "wgan")]
    public void Gp_lambda_without_wgan_gp_is_rejected(string body, string type)
    {
        var error = RejectsOnly(() => Read(Trial(body)), "trial.loss.gp_lambda");

        Assert.Equal($"only used by wgan_gp, not {type}", error.Message);
    }

    [Fact]
    public void Clip_value_without_wgan_is_rejected()
    {
        var error = RejectsOnly(() => Read(Trial("{loss: {type: wgan_gp, clip_value: 0.01}}")), "trial.loss.clip_value");

        Assert.Equal("only used by wgan (weight clipping), not wgan_gp", error.Message);
    }

    [Theory]
    [InlineData("{dataset: mnist}")]
    [InlineData("{dataset: mnist, path: ~}")]
    [InlineData("{dataset: mnist, path: ''}")]
    [InlineData("{dataset: mnist, path: '  '}")]
    public void Mnist_without_a_path_is_rejected(string data)
    {
        var error = RejectsOnly(() => Read(Trial($"{{data: {data}}}")), "trial.data.path");

        Assert.StartsWith("required for dataset mnist", error.Message);
    }

    [Theory]
    [InlineData("{path: /data}", "ring8")]
    [InlineData("{dataset: grid25, path: /data}", "grid25")]
    [InlineData("{dataset: mnist_subset, path: /data}", "mnist_subset")]
    public void Path_with_a_dataset_other_than_mnist_is_rejected(string data, string dataset)
    {
        var error = RejectsOnly(() => Read(Trial($"{{data: {data}}}")), "trial.data.path");

        Assert.Equal($"only used by dataset mnist, not {dataset}", error.Message);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(50)]
    [InlineData(63)]
    [InlineData(65)]
    public void Grid_samples_that_are_not_a_square_number_are_rejected(int samples)
    {
        var error = RejectsOnly(() => Read(Trial($"{{evaluation: {{grid_samples: {samples}}}}}")), "trial.evaluation.grid_samples");

        Assert.Equal($"must be a square number (16, 64, 100, ...), got {samples}", error.Message);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(4096)]
    public void Grid_samples_that_are_a_square_number_are_accepted(int samples)
    {
        Assert.Equal(samples, Read(Trial($"{{evaluation: {{grid_samples: {samples}}}}}")).Evaluation.GridSamples);
    }

    [Theory]
    [InlineData("{target_low: 0.5, target_high: 0.5}", "must be below target_high (0.5), got 0.5")]
    [InlineData("{target_low: 0.8, target_high: 0.6}", "must be below target_high (0.6), got 0.8")]
    [InlineData("{target_low: 0.7}", "must be below target_high (0.7), got 0.7")]
    public void Adaptive_band_whose_low_target_is_not_below_its_high_target_is_rejected(string adaptive, string message)
    {
        var error = RejectsOnly(() => Read(Trial($"{{adaptive_lr: {adaptive}}}")), "trial.adaptive_lr.target_low");

        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Adaptive_min_lr_above_max_lr_is_rejected()
    {
        var error = RejectsOnly(() => Read(Trial("{adaptive_lr: {min_lr: 0.1, max_lr: 0.01}}")), "trial.adaptive_lr.min_lr");

        Assert.Equal("must not exceed max_lr (0.01), got 0.1", error.Message);
    }

    [Theory]
    [InlineData("beta1")]
    [InlineData("beta2")]
    public void Rmsprop_given_an_adam_beta_is_rejected(string beta)
    {
        var error = RejectsOnly(
            () => Read(Trial($"{{optimizer: {{discriminator: {{type: rmsprop, {beta}: 0.5}}}}}}")),
            $"trial.optimizer.discriminator.{beta}");

        Assert.Equal("betas apply to adam; rmsprop takes alpha", error.Message);
    }

    [Fact]
    public void Adam_given_rmsprop_alpha_is_rejected()
    {
        var error = RejectsOnly(() => Read(Trial("{optimizer: {generator: {alpha: 0.9}}}")), "trial.optimizer.generator.alpha");

        Assert.Equal("alpha applies to rmsprop; adam takes beta1 and beta2", error.Message);
    }

    [Fact]
    public void Oversize_document_is_rejected_naming_the_limit()
    {
        var yaml = "trial: {}\n#" + new string('x', TrialSpecReader.MaxDocumentChars);

        var error = RejectsOnly(() => Read(yaml), "trial");

        Assert.Equal($"document is {yaml.Length} characters; the limit is 1048576", error.Message);
    }

    [Fact]
    public void Document_of_exactly_the_limit_is_read()
    {
        var head = "trial: {seed: 3}\n#";
        var yaml = head + new string('x', TrialSpecReader.MaxDocumentChars - head.Length);

        Assert.Equal(3, Read(yaml).Seed);
    }

    [Fact]
    public void Several_problems_are_reported_together()
    {
        const string yaml = """
            trial:
              seed: abc
              epochs: 3
              data: {dataset: cifar10}
              loss: {type: wgan, real_label: 0.9}
              optimizer:
                generator: {lr: 0}
              evaluation: {grid_samples: 50}
            """;

        var exception = Assert.Throws<SpecException>(() => Read(yaml));

        Assert.Equal(
            new[]
            {
                "trial.data.dataset", "trial.epochs", "trial.evaluation.grid_samples", "trial.loss.real_label",
                "trial.optimizer.generator.lr", "trial.seed",
            },
            exception.Errors.Select(e => e.Field).Order());
        Assert.StartsWith("6 problems:", exception.Message);
        Assert.All(exception.Errors, e => Assert.Contains(e.ToString(), exception.Message));
    }

    [Fact]
    public void Global_batch_size_is_divided_among_the_replicas()
    {
        var spec = Read(Trial("{data: {global_batch_size: 96}}"));

        Assert.Equal((96, 48, 32), (spec.Data.PerReplicaBatch(1), spec.Data.PerReplicaBatch(2), spec.Data.PerReplicaBatch(3)));
        Assert.Equal(96, spec.Data.GlobalBatch(4));
        var error = Assert.Throws<ArgumentException>(() => spec.Data.PerReplicaBatch(5));
        Assert.Contains("data.global_batch_size 96 is not a multiple of the world size 5", error.Message);
    }

    [Fact]
    public void Per_replica_batch_size_multiplies_with_the_world_size()
    {
        var spec = Read(Trial("{data: {batch_size: 16}}"));

        Assert.Equal((16, 16, 48), (spec.Data.PerReplicaBatch(1), spec.Data.PerReplicaBatch(3), spec.Data.GlobalBatch(3)));
    }

    [Theory]
    [InlineData("{data: {batch_size: 16, global_batch_size: 64}}", "trial.data.global_batch_size", "not both")]
    [InlineData("{data: {batch_size: 256, global_batch_size: 64}}", "trial.data.global_batch_size", "not both")]
    [InlineData("{data: {global_batch_size: 0}}", "trial.data.global_batch_size", "must be")]
    [InlineData("{data: {global_batch_size: many}}", "trial.data.global_batch_size", "must be an integer")]
    public void Batch_size_and_global_batch_size_exclude_each_other(string trial, string field, string message)
    {
        var error = RejectsOnly(() => Read(Trial(trial)), field);

        Assert.Contains(message, error.Message);
    }
}
