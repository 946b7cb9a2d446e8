"""The Tennessee Eastman process under Ricker's (1996) decentralized control (a closed-loop model).

See :mod:`plant_models.tennessee_eastman.decentralized`: the set points of
the base layer are the inputs; the plant's 50 states, the 16 loop
integrals and 6 analyser lags the states.
"""

from plant_models.tennessee_eastman import MODEL as PLANT
from plant_models.tennessee_eastman.decentralized import closed_loop

MODEL = closed_loop(PLANT)
