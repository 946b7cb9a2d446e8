"""The plant of a step test: the twin of a model, or an FMU run without its equations."""

from __future__ import annotations

from dataclasses import dataclass, field

from twin.core.errors import InputError, UnknownNameError
from twin.core.sensors import SensorSpec
from twin.core.units import check_values, to_declared_values
from twin.orchestration.loop.config import refuse_model_only_keys
from twin.orchestration.registry import load_model
from twin.orchestration.steptest.config import StepTestSpec


@dataclass(frozen=True)
class PlantHandle:
    """A plant ready for a test, with the units and time unit of its variables."""

    plant: object
    units: dict[str, str]
    time_unit: str
    name: str
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    """Declared bounds of the plant's inputs (a model's), which the MVs never leave."""


def make_plant(spec: StepTestSpec) -> PlantHandle:
    """The plant of ``spec``, with one sensor per CV (its noise), checked against the MVs and CVs.

    Raises
    ------
    InputError
        An MV that is not an input of the plant, a CV that is not measurable,
        an FMU with model-only settings (one line naming it).
    """
    pc, t = spec.plant, spec.test
    if pc is None:
        return _opcua_plant(spec)
    sensors = [SensorSpec(c.name, c.noise_std) for c in spec.cv]
    if pc.is_fmu:
        from twin.core.fmu.description import describe_fmu
        from twin.core.fmu.plant import FmuPlant

        refuse_model_only_keys(pc)
        if pc.steady_start:
            raise InputError("plant.steady_start needs the model's equations; an FMU starts from "
                             "its start values (give test.lead_in to let it settle first)")
        d = describe_fmu(pc.model, pc.interface)
        for c in spec.cv:
            d.variable(c.name, "cv (an FMU variable)")
        plant = FmuPlant(pc.model, spec.tick, sensors, start={**pc.parameters, **pc.x0, **pc.u0},
                         seed=t.seed, interface=pc.interface, isolate=pc.isolate,
                         me_method=pc.method or "dopri5", timeout=pc.timeout,
                         time_unit=pc.time_unit)
        units = {name: v.unit or "-" for name, v in plant.description.variables.items()}
        handle = PlantHandle(plant, units, plant.time_unit or pc.time_unit, plant.title)
    else:
        from twin.core.plant import SimulatedPlant

        model = load_model(pc.model, pc.parameters, pc.parameter_set)
        measurable = model.states.names + model.outputs.names
        for c in spec.cv:
            if c.name not in measurable:
                raise UnknownNameError("cv", c.name, measurable, f"model '{model.name}'")
        for variables, values, key in ((model.states, pc.x0, "plant.x0"),
                                       (model.inputs, pc.u0, "plant.u0")):
            check_values(variables, to_declared_values(variables, values, key), key)
        plant = SimulatedPlant(model, spec.tick, sensors, x0=pc.x0 or None, u0=pc.u0 or None,
                               steady_start=pc.steady_start is not False, seed=t.seed,
                               base_layer=pc.base_layer, backend=pc.backend, method=pc.method,
                               steady_hint="plant.steady_start: give other plant.u0, or "
                                           "steady_start = false with plant.x0")
        units = {v.name: v.unit for vs in (model.states, model.inputs, model.outputs) for v in vs}
        bounds = dict(zip(model.inputs.names, zip(model.inputs.lower(), model.inputs.upper())))
        handle = PlantHandle(plant, units, model.time_unit, model.title,
                             {n: (float(lo), float(hi)) for n, (lo, hi) in bounds.items()})
    inputs = list(handle.plant.inputs())
    for m in spec.mv:
        if m.name not in inputs:
            handle.plant.close()
            raise UnknownNameError("mv (a plant input)", m.name, inputs, f"plant '{pc.model}'")
    return handle


def _opcua_plant(spec: StepTestSpec) -> PlantHandle:
    """The plant behind an OPC UA server, through the deployed loop's gateway."""
    from twin.orchestration.opcua.tagmap import load_tag_map
    from twin.orchestration.steptest.opcua_plant import OpcuaPlant

    o = spec.opcua
    noisy = [c.name for c in spec.cv if c.noise_std > 0]
    if noisy:
        raise InputError(f"cv '{noisy[0]}'.noise_std simulates a sensor; a plant over OPC UA "
                         "has its own noise")
    tags = load_tag_map(o.tags_file)
    plant = OpcuaPlant(tags, o.gateway, o.watchdog, spec.tick, [m.name for m in spec.mv],
                       [c.name for c in spec.cv], o.time_unit)
    units = {name: tag.unit or "-" for name, tag in tags.tags.items()}
    return PlantHandle(plant, units, o.time_unit, plant.title)
