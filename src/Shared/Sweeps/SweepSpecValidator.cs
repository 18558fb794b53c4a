using System.Globalization;
using System.Text.RegularExpressions;
using Orchestrator.Shared.Specs;

namespace Orchestrator.Shared.Sweeps;

/// <summary>The one rule set for a sweep, behind both the YAML reader and the wire; every error names its field.</summary>
public static partial class SweepSpecValidator
{
    /// <summary>Validates a whole sweep, its trial template included, naming fields below <paramref name="path"/>.</summary>
    public static List<SpecError> Validate(SweepSpec spec, string path, SweepLimits limits)
    {
        ArgumentNullException.ThrowIfNull(spec);
        var errors = TrialSpecValidator.Validate(spec.Trial, $"{path}.trial");
        errors.AddRange(ValidateSweep(spec, path, limits, templateValid: errors.Count == 0));
        return errors;
    }

    /// <summary>
    /// The sweep-level checks: everything but the template's own fields, which its reader (YAML or wire) has
    /// checked. Parameters are applied to the template only when it is valid (<paramref name="templateValid"/>),
    /// so that one mistake in the template is not reported once per parameter.
    /// </summary>
    public static List<SpecError> ValidateSweep(SweepSpec spec, string path, SweepLimits limits, bool templateValid)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(limits);
        var e = new Checks(new List<SpecError>());
        if (spec.Name is null || !NameRegex().IsMatch(spec.Name))
            e.Add($"{path}.name", $"must be 1 to 100 characters of letters, digits, '.', '_' or '-', starting with a letter or digit, got '{spec.Name}'");
        CheckParameters(e, spec, $"{path}.parameters", templateValid);
        CheckObjective(e, spec.Objective, $"{path}.objective");
        CheckSearch(e, spec.Search, $"{path}.search");
        CheckEarlyStopping(e, spec.EarlyStopping, $"{path}.early_stopping");
        CheckBudget(e, spec.Budget, $"{path}.budget", limits);
        CheckResources(e, spec.Resources, $"{path}.resources", limits);
        CheckCombinations(e, spec, path);
        return e.Errors;
    }

    private static void CheckParameters(Checks e, SweepSpec spec, string path, bool templateValid)
    {
        if (spec.Parameters.Count == 0)
        {
            e.Add(path, "at least one parameter is required (a list of {name, type, ...})");
            return;
        }
        if (spec.Parameters.Count > SweepLimits.MaxParameters)
        {
            e.Add(path, $"has {spec.Parameters.Count} entries; the limit is {SweepLimits.MaxParameters}");
            return;
        }
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < spec.Parameters.Count; i++)
        {
            var p = spec.Parameters[i];
            var at = $"{path}[{i}]";
            if (string.IsNullOrEmpty(p.Name))
            {
                e.Add($"{at}.name", "required: the dotted path of a trial field, e.g. optimizer.generator.lr");
                continue;
            }
            if (!seen.Add(p.Name))
            {
                e.Add($"{at}.name", $"'{p.Name}' is already a parameter; each trial field can be swept once");
                continue;
            }
            var field = TrialTemplate.FindField(p.Name, out var problem);
            if (field is null)
            {
                e.Add($"{at}.name", problem!);
                continue;
            }
            if (!ParameterTypes.All.Contains(p.Type))
            {
                e.Add($"{at}.type", $"unknown value '{p.Type}'; allowed: {string.Join(", ", ParameterTypes.All)}");
                continue;
            }
            var candidates = p.Type == ParameterTypes.Categorical
                ? CheckCategorical(e, p, at)
                : CheckNumeric(e, p, at, TrialTemplate.IsNumeric(field), TrialTemplate.IsFloatingPoint(field));
            if (!templateValid || candidates is null) continue;
            // Every value the search can produce lies between the bounds or among the choices; each of those
            // applied to the template must give a valid trial, checked now rather than when a trial starts.
            foreach (var (key, text) in candidates)
            {
                var errors = new List<SpecError>();
                TrialTemplate.TryApply(spec.Trial, new Dictionary<string, string> { [p.Name] = text }, "trial", errors);
                if (errors.Count > 0)
                    e.Add($"{at}.{key}", $"{p.Name} = {text} gives an invalid trial: {errors[0]}");
            }
        }
    }

    private static List<(string Key, string Text)>? CheckCategorical(Checks e, ParameterSpec p, string at)
    {
        var ok = true;
        if (p.Min is not null) ok = e.Add($"{at}.min", "only for uniform, log_uniform and int parameters; categorical takes values");
        if (p.Max is not null) ok = e.Add($"{at}.max", "only for uniform, log_uniform and int parameters; categorical takes values");
        if (p.GridPoints is not null) ok = e.Add($"{at}.grid_points", "only for numeric parameters; a categorical grid takes every value");
        if (p.Values.Count == 0)
        {
            e.Add($"{at}.values", "required for categorical: a non-empty list of choices");
            return null;
        }
        if (p.Values.Count > SweepLimits.MaxCategoricalValues)
        {
            e.Add($"{at}.values", $"has {p.Values.Count} entries; the limit is {SweepLimits.MaxCategoricalValues}");
            return null;
        }
        var distinct = new HashSet<string>(StringComparer.Ordinal);
        for (var j = 0; j < p.Values.Count; j++)
        {
            if (!distinct.Add(p.Values[j]))
                ok = e.Add($"{at}.values[{j}]", $"'{p.Values[j]}' is listed twice");
        }
        return ok ? p.Values.Select((v, j) => ($"values[{j}]", v)).ToList() : null;
    }

    private static List<(string Key, string Text)>? CheckNumeric(Checks e, ParameterSpec p, string at, bool numericField, bool floatingField)
    {
        var ok = true;
        if (!numericField)
        {
            e.Add($"{at}.type", $"{p.Type} needs a numeric trial field; {p.Name} is not a number, use categorical");
            return null;
        }
        if (!floatingField && p.Type != ParameterTypes.Int)
            ok = e.Add($"{at}.type", $"{p.Name} is an integer field; use int, not {p.Type}");
        if (p.Values.Count > 0)
            ok = e.Add($"{at}.values", $"only for categorical parameters; {p.Type} takes min and max");
        if (p.GridPoints is { } points && points is < 2 or > 1000)
            ok = e.Add($"{at}.grid_points", $"must be between 2 and 1000, got {points}");
        var min = Bound(e, p.Min, $"{at}.min", p.Type, ref ok);
        var max = Bound(e, p.Max, $"{at}.max", p.Type, ref ok);
        if (min is { } lo && max is { } hi)
        {
            if (lo > hi)
                ok = e.Add($"{at}.min", $"must be below max ({Number(hi)}), got {Number(lo)}: the range is inverted");
            else if (lo == hi)
                ok = e.Add($"{at}.min", $"equals max ({Number(hi)}): the range is empty; use a categorical with one value to fix a field");
            if (p.Type == ParameterTypes.LogUniform && lo <= 0)
                ok = e.Add($"{at}.min", $"must be > 0 for log_uniform, got {Number(lo)}");
        }
        if (!ok || min is null || max is null) return null;
        return [("min", Format(min.Value, p.Type)), ("max", Format(max.Value, p.Type))];
    }

    private static double? Bound(Checks e, double? value, string field, string type, ref bool ok)
    {
        if (value is not { } v)
        {
            ok = e.Add(field, $"required for {type}");
            return null;
        }
        if (!double.IsFinite(v))
        {
            ok = e.Add(field, $"must be a finite number, got {Number(v)}");
            return null;
        }
        if (type == ParameterTypes.Int && (Math.Floor(v) != v || Math.Abs(v) > int.MaxValue))
        {
            ok = e.Add(field, $"must be a whole number for int, got {Number(v)}");
            return null;
        }
        return v;
    }

    private static string Format(double value, string type) =>
        type == ParameterTypes.Int ? ((long)value).ToString(CultureInfo.InvariantCulture) : value.ToString("R", CultureInfo.InvariantCulture);

    private static void CheckObjective(Checks e, ObjectiveSpec o, string path)
    {
        if (o.Metric is null || !MetricRegex().IsMatch(o.Metric))
            e.Add($"{path}.metric", $"must be a metric name (1 to 100 characters of letters, digits, '_', '.', '/', ':' or '-'), got '{o.Metric}'");
        e.OneOf($"{path}.goal", o.Goal, Goals.All);
    }

    private static void CheckSearch(Checks e, SearchSpec s, string path)
    {
        e.OneOf($"{path}.algorithm", s.Algorithm, SearchAlgorithms.All);
        e.Int($"{path}.seed", s.Seed, 0, int.MaxValue);
        e.Int($"{path}.grid_points", s.GridPoints, 2, 1000);
        e.Int($"{path}.startup_trials", s.StartupTrials, 1, 100_000);
        e.Double($"{path}.gamma", s.Gamma, 0, 1, exclusive: true);
        e.Int($"{path}.candidates", s.Candidates, 1, 100_000);
        e.Int($"{path}.population", s.Population, 2, 10_000);
        e.Int($"{path}.ready_interval", s.ReadyInterval, 1, int.MaxValue);
        // (0, 0.5]: at most half the population exploits the other half.
        if (!double.IsFinite(s.Quantile) || s.Quantile <= 0 || s.Quantile > 0.5)
            e.Add($"{path}.quantile", $"must be > 0 and <= 0.5, got {Number(s.Quantile)}");
        e.Double($"{path}.resample_probability", s.ResampleProbability, 0, 1, exclusive: false);
        if (s.PerturbFactors.Count is 0 or > 16)
            e.Add($"{path}.perturb_factors", $"must hold 1 to 16 factors, got {s.PerturbFactors.Count}");
        for (var i = 0; i < s.PerturbFactors.Count && i < 16; i++)
        {
            if (!double.IsFinite(s.PerturbFactors[i]) || s.PerturbFactors[i] <= 0)
                e.Add($"{path}.perturb_factors[{i}]", $"must be a finite number > 0, got {Number(s.PerturbFactors[i])}");
        }
    }

    private static void CheckEarlyStopping(Checks e, EarlyStoppingSpec s, string path)
    {
        e.OneOf($"{path}.algorithm", s.Algorithm, EarlyStoppingAlgorithms.All);
        if (s.Metric is not null && !MetricRegex().IsMatch(s.Metric))
            e.Add($"{path}.metric", $"must be a metric name (1 to 100 characters of letters, digits, '_', '.', '/', ':' or '-'), got '{s.Metric}'");
        var minOk = e.Int($"{path}.min_resource", s.MinResource, 1, int.MaxValue);
        if (s.MaxResource is { } max && e.Int($"{path}.max_resource", max, 1, int.MaxValue) && minOk && max <= s.MinResource)
            e.Add($"{path}.max_resource", $"must be above min_resource ({s.MinResource}), got {max}");
        e.Int($"{path}.reduction_factor", s.ReductionFactor, 2, 100);
        e.Int($"{path}.min_trials", s.MinTrials, 1, 100_000);
        if (s.Brackets is { } brackets) e.Int($"{path}.brackets", brackets, 1, 100);
    }

    private static void CheckBudget(Checks e, BudgetSpec b, string path, SweepLimits limits)
    {
        if (b.MaxTrials > limits.MaxTrials)
            e.Add($"{path}.max_trials", $"must be <= {limits.MaxTrials} (this coordinator's cap), got {b.MaxTrials}");
        else
            e.Int($"{path}.max_trials", b.MaxTrials, 1, limits.MaxTrials);
        e.Int($"{path}.parallel_trials", b.ParallelTrials, 1, 10_000);
        if (b.MaxFailedTrials is { } failed) e.Int($"{path}.max_failed_trials", failed, 0, int.MaxValue);
        e.Int($"{path}.max_retries", b.MaxRetries, 0, 100);
    }

    private static void CheckResources(Checks e, ResourcesSpec r, string path, SweepLimits limits)
    {
        if (limits.ClusterWorkers is { } cluster && r.Workers > cluster && r.Workers >= 1)
            e.Add($"{path}.workers", $"must be <= {cluster} (the workers in the cluster; each process of a trial needs its own worker), got {r.Workers}");
        else
            e.Int($"{path}.workers", r.Workers, 1, 1024);
        e.Int($"{path}.devices", r.Devices, 1, 64);
    }

    /// <summary>
    /// Rules across sections: settings that are each valid alone but do not work together. Checked on the template
    /// as written (a parameter may still change training.steps per trial; the template's value is what is judged).
    /// </summary>
    private static void CheckCombinations(Checks e, SweepSpec spec, string path)
    {
        var search = spec.Search;
        var stopping = spec.EarlyStopping;
        var kind = spec.Trial.Kind;
        if (search.Algorithm == SearchAlgorithms.Pbt)
        {
            // PBT multiplies values by perturb_factors (or resamples them): a grid of values cannot be kept.
            for (var i = 0; i < spec.Parameters.Count; i++)
            {
                if (spec.Parameters[i].GridPoints is not null)
                    e.Add($"{path}.parameters[{i}].grid_points", "only for search.algorithm grid; pbt perturbs values by perturb_factors, off any grid");
            }
            if (search.ResampleProbability == 0 && spec.Parameters.Count > 0 && spec.Parameters.All(p => p.Type == ParameterTypes.Categorical))
                e.Add($"{path}.search.resample_probability", "is 0 with only categorical parameters: pbt explore would never change a parameter (categorical ones are only resampled)");
            if (stopping.Algorithm != EarlyStoppingAlgorithms.None)
                e.Add($"{path}.early_stopping.algorithm", $"must be none with search.algorithm pbt, got '{stopping.Algorithm}': pbt replaces its bottom members by copying the top ones instead of stopping them");
            if (spec.Budget.MaxTrials != search.Population)
                e.Add($"{path}.budget.max_trials", $"must equal search.population ({search.Population}) with pbt: the population's members are the sweep's trials, got {spec.Budget.MaxTrials}");
            if (spec.Budget.ParallelTrials < search.Population)
                e.Add($"{path}.budget.parallel_trials", $"must be >= search.population ({search.Population}) with pbt: members train side by side and copy each other, got {spec.Budget.ParallelTrials}");
            CheckIntermediateMetric(e, kind, spec.Objective.Metric, $"{path}.search.algorithm", $"{path}.objective.metric", "pbt");
        }
        if (stopping.Algorithm is EarlyStoppingAlgorithms.Median or EarlyStoppingAlgorithms.Asha or EarlyStoppingAlgorithms.Hyperband)
        {
            var metricField = stopping.Metric is null ? $"{path}.objective.metric" : $"{path}.early_stopping.metric";
            CheckIntermediateMetric(e, kind, stopping.Metric ?? spec.Objective.Metric, $"{path}.early_stopping.algorithm", metricField, stopping.Algorithm);
            var steps = kind switch
            {
                TrialKinds.Sleep => spec.Trial.Sleep.Reports,
                TrialKinds.Quadratic => 1,
                _ => spec.Trial.Training.Steps,
            };
            var stepsName = kind == TrialKinds.Sleep ? "trial.sleep.reports" : "trial.training.steps";
            if (stopping.Algorithm == EarlyStoppingAlgorithms.Median)
            {
                if (stopping.MinResource > steps && steps >= 1)
                    e.Add($"{path}.early_stopping.min_resource", $"must be <= {stepsName} ({steps}), got {stopping.MinResource}: no trial would ever be judged");
            }
            else if (stopping.MaxResource is null && steps >= 1 && stopping.MinResource >= steps)
            {
                e.Add($"{path}.early_stopping.min_resource", $"must be below {stepsName} ({steps}), the top rung when max_resource is unset, got {stopping.MinResource}");
            }
            if (stopping.Algorithm == EarlyStoppingAlgorithms.Hyperband && stopping.Brackets is { } brackets && stopping.MinResource >= 1
                && stopping.ReductionFactor >= 2 && (stopping.MaxResource ?? steps) is var max && max > stopping.MinResource)
            {
                // s_max = floor(log_η(max / min)), as HyperbandStopper computes it.
                var sMax = 0;
                for (var r = (long)stopping.MinResource * stopping.ReductionFactor; r <= max; r *= stopping.ReductionFactor) sMax++;
                if (brackets > sMax + 1)
                    e.Add($"{path}.early_stopping.brackets", $"must be <= {sMax + 1} (floor(log_η(max_resource / min_resource)) + 1 for η = {stopping.ReductionFactor}), got {brackets}");
            }
        }
    }

    /// <summary>Early stopping and PBT judge a metric reported while the trial runs: the trial kind must report it.</summary>
    private static void CheckIntermediateMetric(Checks e, string kind, string? metric, string algorithmField, string metricField, string algorithm)
    {
        switch (kind)
        {
            case TrialKinds.Quadratic:
                e.Add(algorithmField, $"'{algorithm}' needs an intermediate metric, and quadratic trials report none (only their final objective); use kind sleep or gan, or no {(algorithm == SearchAlgorithms.Pbt ? "pbt" : "early stopping")}");
                break;
            case TrialKinds.Sleep when metric != Trials.BuiltinTrials.ObjectiveMetric:
                e.Add(metricField, $"'{algorithm}' needs an intermediate metric; sleep trials report only '{Trials.BuiltinTrials.ObjectiveMetric}' while they run, got '{metric}'");
                break;
            // gan trials report their step metrics (losses) every log interval and their evaluation metrics every
            // eval_every steps: any metric name the engine reports can be judged.
        }
    }

    private static string Number(double value) => BoundsText.Number(value);

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    private static partial Regex NameRegex();

    [GeneratedRegex("^[A-Za-z0-9_.:/-]{1,100}$")]
    private static partial Regex MetricRegex();

    /// <summary>Collects errors; each check returns whether the value passed.</summary>
    private sealed class Checks(List<SpecError> errors)
    {
        public List<SpecError> Errors => errors;

        /// <summary>Adds an error and returns false, so that `ok = e.Add(...)` records the failure.</summary>
        public bool Add(string field, string message)
        {
            errors.Add(new SpecError(field, message));
            return false;
        }

        public bool OneOf(string field, string value, string[] allowed) =>
            allowed.Contains(value) || Add(field, $"unknown value '{value}'; allowed: {string.Join(", ", allowed)}");

        public bool Int(string field, int value, int min, int max) =>
            (value >= min && value <= max) || Add(field, $"must be {BoundsText.Ints(min, max == int.MaxValue ? null : max)}, got {value}");

        public bool Double(string field, double value, double min, double max, bool exclusive) =>
            (double.IsFinite(value) && !BoundsText.OutOfRange(value, min, max, exclusive) && (!exclusive || value < max))
            || Add(field, $"must be {(exclusive ? $"> {Number(min)} and < {Number(max)}" : BoundsText.Doubles(min, max, false))}, got {Number(value)}");
    }
}
