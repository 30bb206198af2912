import numpy as np
import pytest

from cranial_sct.conversion import (
    CARNEY_2006,
    DEFAULT_DENSITY_TABLE,
    hu_to_mu_511kev,
    hu_to_relative_electron_density,
    read_density_table,
)
from cranial_sct.errors import InputError


def test_mu_of_air_and_water_and_bone_at_120_kvp():
    mu = hu_to_mu_511kev(np.array([-1000.0, 0.0, 1000.0]))
    # air 0, water 0.096, bone: 5.10e-5 * 2000 + 4.71e-2 (Carney 2006, 120 kVp)
    np.testing.assert_allclose(mu, [0.0, 0.096, 0.1491], atol=1e-4)


@pytest.mark.parametrize("kvp", sorted(CARNEY_2006))
def test_bilinear_is_continuous_at_the_break_point(kvp):
    bp = CARNEY_2006[kvp].break_hu
    below, above = hu_to_mu_511kev(np.array([bp - 1e-3, bp + 1e-3]), kvp=kvp)
    assert above == pytest.approx(below, abs=2e-4)


def test_unknown_kvp_is_a_user_error():
    with pytest.raises(InputError, match="kvp"):
        hu_to_mu_511kev(np.zeros(3), kvp=90)


def test_density_interpolates_and_clamps():
    red = hu_to_relative_electron_density(np.array([-2000.0, 0.0, 30.0, 5000.0]))
    assert red[0] == pytest.approx(DEFAULT_DENSITY_TABLE[0][1])
    assert red[1] == pytest.approx(1.0)
    assert red[2] == pytest.approx(1.025)
    assert red[3] == pytest.approx(DEFAULT_DENSITY_TABLE[-1][1])


def test_user_density_table_with_header(tmp_path):
    path = tmp_path / "table.csv"
    path.write_text("hu,density\n-1000,0\n0,1\n1000,1.5\n")
    table = read_density_table(path)
    assert hu_to_relative_electron_density(np.array([500.0]), table)[0] == pytest.approx(1.25)


def test_non_monotonic_density_table_names_the_file(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("0,1\n-1000,0\n")
    with pytest.raises(InputError, match="bad.csv"):
        read_density_table(path)
