"""One network for Burgers at every viscosity in [0.002, 0.02]: train the shipped parametric case once,
then ask it for any nu, where a sweep (sweep_burgers_nu.py) trains one network per value.

    python examples/parametric_burgers.py            # the shipped case: about 5 minutes on a CPU
    python examples/parametric_burgers.py --quick    # a tenth of the iterations, to try it

Writes runs/burgers-*/plots (the run's figures, parameters.png among them) and
nu_profiles.png beside them: u(x, t = 0.75) for several nu, the network against Cole-Hopf.
"""
import argparse

import numpy as np
from matplotlib.figure import Figure

import pinnkit
from pinnkit.pdes.burgers_exact import burgers_exact

VALUES = (0.0025, 0.004, 0.008, 0.016)  # none of them among the values the error is reported at


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="a tenth of every phase's iterations")
    args = parser.parse_args()
    quick = ["phases[0].iterations=100", "phases[1].iterations=400", "phases[1].resample_every=200"]
    result = pinnkit.solve("burgers_parametric", quick if args.quick else [], quiet=False, plots=True)
    x = np.linspace(-1, 1, 401)
    points = np.stack([x, np.full_like(x, 0.75)], axis=1)
    fig = Figure(figsize=(6, 4), layout="constrained")
    ax = fig.add_subplot()
    for nu in VALUES:
        u = result.solution.predict(points, parameters={"nu": nu})["u"]
        exact = burgers_exact(x, 0.75, nu)
        error = np.linalg.norm(u - exact) / np.linalg.norm(exact)
        line, = ax.plot(x, u, label=f"nu = {nu:g} (rel L2 {error:.1e})")
        ax.plot(x, exact, "--", color=line.get_color(), linewidth=1)
        print(f"nu = {nu:<7g} rel L2 of u(x, 0.75) = {error:.2e}")
    ax.set(xlabel="x", ylabel="u(x, t = 0.75)", title="one network, four viscosities (dashed: Cole-Hopf)")
    ax.legend(fontsize="small")
    path = result.run_dir / "plots" / "nu_profiles.png"
    fig.savefig(path, dpi=150)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
