"""Deploy files are checked on load: one clear line for each mistake."""

from __future__ import annotations

import pytest

from hil_support import DATA
from twin.core.errors import InputError
from twin.orchestration.opcua.deploy_config import load_deploy

HEAD = (f'controller_file = "{DATA / "controller.toml"}"\ntags_file = "{DATA / "node_tags.toml"}"\n'
        '[gateway]\npassword_env = "TWIN_TEST_PASSWORD"\n')


@pytest.mark.parametrize("text,message", [
    (HEAD + "[watchdog]\nstale_afterr = 1.0\n", "stale_afterr"),
    (HEAD + "[[event]]\ntime = 5.0\nmode = \"off\"\n", "a deployed loop has no mode events"),
    (HEAD + "[[event]]\ntime = 5.0\ninputs = { v1 = 2.0 }\n", "cannot change plant inputs"),
    (HEAD + "[watchdog]\nheartbeat_timeout = 0.0\n", "watchdog.heartbeat_timeout: 0.0 is out of range"),
    (HEAD.replace("tags_file", "tags_filez"), "missing the tag map"),
])
def test_mistakes_in_a_deploy_file_are_named(tmp_path, text, message):
    path = tmp_path / "deploy.toml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_deploy(path)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_good_deploy_file_loads_with_paths_relative_to_it(tmp_path):
    path = tmp_path / "deploy.toml"
    path.write_text(HEAD + 'config_dir = "client"\n[run]\nduration = 30.0\n')
    config = load_deploy(path)
    assert config.gateway.config_dir == str(tmp_path / "client")
    assert config.run.duration == 30.0 and not config.uses_ticks
    assert config.tags.loops["v1"].rsp == "ns=1;s=QuadrupleTank.v1.RSP"
