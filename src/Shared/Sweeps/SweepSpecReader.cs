using Orchestrator.Shared.Specs;

namespace Orchestrator.Shared.Sweeps;

/// <summary>Reads and validates a sweep file (a mapping with one key, <c>sweep</c>) into a <see cref="SweepSpec"/>.</summary>
public static class SweepSpecReader
{
    /// <summary>Parses and validates a sweep file against <paramref name="limits"/> (defaults when null).</summary>
    /// <exception cref="SpecException">The sweep is invalid; every problem names its field (`sweep.budget.max_trials`).</exception>
    public static SweepSpec FromYaml(string yaml, string source = "sweep", SweepLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(yaml);
        limits ??= new SweepLimits();
        var errors = new List<SpecError>();
        if (yaml.Length > SweepLimits.MaxDocumentChars)
            throw new SpecException([new SpecError(source, $"document is {yaml.Length} characters; the limit is {SweepLimits.MaxDocumentChars}")]);
        var root = TrialSpecReader.ParseRoot(yaml, source, errors);
        var top = new YamlSection(root, "", errors);
        if (root is not null && !top.Has("sweep"))
            errors.Add(new SpecError("sweep", "missing; a sweep file holds one `sweep:` mapping"));
        var spec = Read(top.Section("sweep"), limits);
        top.Finish();
        TrialSpecReader.ThrowIfAny(errors);
        return spec;
    }

    /// <summary>
    /// Reads one sweep mapping; problems are added to the section's error list (one per field: a value the reader
    /// already rejected is not reported again by the validator), and the record means something only when none were.
    /// </summary>
    public static SweepSpec Read(YamlSection s, SweepLimits limits)
    {
        ArgumentNullException.ThrowIfNull(s);
        // Read into a private error list first, so that the validator's errors can be merged one per field.
        var errors = new List<SpecError>();
        var section = s.WithErrors(errors);
        var d = new SweepSpec();
        var name = section.String("name", d.Name);
        var trial = TrialSpecReader.Read(section.Section("trial"));
        var templateValid = errors.Count == 0;
        var spec = new SweepSpec
        {
            Name = name,
            Trial = trial,
            Parameters = section.Sequence("parameters", SweepLimits.MaxParameters).Select(ReadParameter).ToList(),
            Objective = ReadObjective(section.Section("objective")),
            Search = ReadSearch(section.Section("search")),
            EarlyStopping = ReadEarlyStopping(section.Section("early_stopping")),
            Budget = ReadBudget(section.Section("budget")),
            Resources = ReadResources(section.Section("resources")),
        };
        section.Finish();
        var named = errors.Select(e => e.Field).ToHashSet(StringComparer.Ordinal);
        foreach (var error in SweepSpecValidator.ValidateSweep(spec, s.Path, limits, templateValid))
        {
            if (named.Add(error.Field)) errors.Add(error);
        }
        s.AddErrors(errors);
        return spec;
    }

    private static ParameterSpec ReadParameter(YamlSection s)
    {
        var spec = new ParameterSpec
        {
            Name = s.String("name", ""),
            Type = s.String("type", ""),
            Min = s.OptionalDouble("min"),
            Max = s.OptionalDouble("max"),
            Values = s.StringList("values", SweepLimits.MaxCategoricalValues) ?? [],
            GridPoints = s.OptionalInt("grid_points"),
        };
        s.Finish();
        return spec;
    }

    private static ObjectiveSpec ReadObjective(YamlSection s)
    {
        var d = new ObjectiveSpec();
        var spec = new ObjectiveSpec
        {
            Metric = s.String("metric", d.Metric),
            Goal = s.String("goal", d.Goal, Goals.All),
        };
        s.Finish();
        return spec;
    }

    private static SearchSpec ReadSearch(YamlSection s)
    {
        var d = new SearchSpec();
        var spec = new SearchSpec
        {
            Algorithm = s.String("algorithm", d.Algorithm, SearchAlgorithms.All),
            Seed = s.Int("seed", d.Seed),
            GridPoints = s.Int("grid_points", d.GridPoints),
            StartupTrials = s.Int("startup_trials", d.StartupTrials),
            Gamma = s.Double("gamma", d.Gamma),
            Candidates = s.Int("candidates", d.Candidates),
            Population = s.Int("population", d.Population),
            ReadyInterval = s.Int("ready_interval", d.ReadyInterval),
            Quantile = s.Double("quantile", d.Quantile),
            ResampleProbability = s.Double("resample_probability", d.ResampleProbability),
            PerturbFactors = s.DoubleList("perturb_factors", 16) ?? d.PerturbFactors,
        };
        s.Finish();
        return spec;
    }

    private static EarlyStoppingSpec ReadEarlyStopping(YamlSection s)
    {
        var d = new EarlyStoppingSpec();
        var spec = new EarlyStoppingSpec
        {
            Algorithm = s.String("algorithm", d.Algorithm, EarlyStoppingAlgorithms.All),
            Metric = s.OptionalString("metric"),
            MinResource = s.Int("min_resource", d.MinResource),
            MaxResource = s.OptionalInt("max_resource"),
            ReductionFactor = s.Int("reduction_factor", d.ReductionFactor),
            MinTrials = s.Int("min_trials", d.MinTrials),
            Brackets = s.OptionalInt("brackets"),
        };
        s.Finish();
        return spec;
    }

    private static BudgetSpec ReadBudget(YamlSection s)
    {
        var d = new BudgetSpec();
        var spec = new BudgetSpec
        {
            MaxTrials = s.Int("max_trials", d.MaxTrials),
            ParallelTrials = s.Int("parallel_trials", d.ParallelTrials),
            MaxFailedTrials = s.OptionalInt("max_failed_trials"),
            MaxRetries = s.Int("max_retries", d.MaxRetries),
        };
        s.Finish();
        return spec;
    }

    private static ResourcesSpec ReadResources(YamlSection s)
    {
        var d = new ResourcesSpec();
        var spec = new ResourcesSpec
        {
            Workers = s.Int("workers", d.Workers),
            Devices = s.Int("devices", d.Devices),
        };
        s.Finish();
        return spec;
    }
}
