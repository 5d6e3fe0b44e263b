"""Independent NEQB reference with scipy's DOP853 (for tests and benchmarks; needs scipy).

Written from the equations of the paper in plain numpy, sharing no code with :mod:`lzjax.neqb`
except the conventions: same window [−ε_max, ε_max], the same adiabatic-following start and the
same asymptotic read-out of r_x (both to second order in 1/E) (see :mod:`lzjax.neqb`). Units Δ = 1.
"""

from __future__ import annotations

import math

import numpy as np


def _rates(epsilon, v, gamma, s, omega_c, T, theta, density=None, ohmic=0.0):
    energy = math.sqrt(1.0 + epsilon * epsilon)
    u, w = 1.0 / energy, epsilon / energy
    a_theta = u * math.cos(theta) - w * math.sin(theta)
    b_theta = w * math.cos(theta) + u * math.sin(theta)
    coth = 1.0 / math.tanh(energy / (2.0 * T)) if T > 0 else 1.0
    if density is not None:  # any G(E) (a Python function) and lim G(ω)/ω
        gamma1 = a_theta**2 * math.pi / 2.0 * density(energy) * coth
        gamma_d = b_theta**2 * math.pi * T * ohmic
        return energy, v / energy**2, gamma1, 0.5 * gamma1 + gamma_d, 1.0 / coth
    spectral = gamma / math.pi * energy**s * math.exp(-energy / omega_c)
    gamma1 = a_theta**2 * math.pi / 2.0 * spectral * coth
    gamma_d = b_theta**2 * gamma * T if s == 1 else 0.0
    return energy, v / energy**2, gamma1, 0.5 * gamma1 + gamma_d, 1.0 / coth


def _bloch_rhs(y, energy, phi_dot, g1, g2, r_st):
    """Right-hand side of Eq. (7)-(9) for two Bloch vectors y = (r_x, r_y, r_z) × 2 starts."""
    out = np.empty(6)
    for k in (0, 3):
        rx, ry, rz = y[k], y[k + 1], y[k + 2]
        out[k] = phi_dot * rz - g1 * (rx - r_st)
        out[k + 1] = -g2 * ry - energy * rz
        out[k + 2] = energy * ry - g2 * rz - phi_dot * rx
    return out


def neqb_reference(
    v, gamma, s, omega_c, T, theta, eps_max, *, rtol=1e-12, atol=1e-13, method="DOP853", density=None, ohmic=0.0
):
    """(P_LZ, P_ES) of Eq. (7)-(10) by scipy.integrate.solve_ivp, Δ = 1, window ±ε_max. With
    `density` (a Python function G(E)) and `ohmic` (lim G(ω)/ω), any spectral density: Γ1 =
    A_Θ² (π/2) G(E) coth, Γd = B_Θ² π T·ohmic (γ, s, ω_c then unused)."""
    from scipy.integrate import solve_ivp

    params = (v, gamma, s, omega_c, T, theta, density, ohmic)

    def rhs(t, y):
        return _bloch_rhs(y, *_rates(v * t, *params))

    def coherence(t):
        energy, phi_dot, _, g2, _ = _rates(v * t, *params)
        kappa2 = 3.0 * v * v * (v * t) / energy**6  # second order in 1/E (linear drive)
        return phi_dot, 1.0 / (g2 + 1j * energy), kappa2

    t0, t1 = -eps_max / v, eps_max / v
    phi_dot, response, kappa2 = coherence(t0)
    y0 = []
    for rx in (1.0, -1.0):
        c = rx * (-phi_dot * response + kappa2)
        y0 += [rx, c.imag, c.real]
    sol = solve_ivp(rhs, (t0, t1), np.array(y0), method=method, rtol=rtol, atol=atol)
    if not sol.success:
        raise RuntimeError(sol.message)
    phi_dot, response, kappa2 = coherence(t1)
    out = []
    for k in (0, 3):
        rx, ry, rz = sol.y[k : k + 3, -1]
        free = rz + 1j * ry - rx * (-phi_dot * response + kappa2)
        out.append(rx + (free * (phi_dot * response + kappa2)).real)
    return 0.5 * (1.0 + out[0]), 0.5 * (1.0 - out[1])


# ---- time-resolved references along any protocol (tests/test_dynamics.py) ---------------------


def schrodinger_reference(eps, t0, times, *, rtol=1e-11, atol=1e-13):
    """(P_ground, P_up) (2 starts, len(times)) of H = (σx + ε(t) σz)/2 by DOP853, Δ = 1.

    `eps` a numpy function of t; starts at t0 in the instantaneous ground (row 0) and excited
    (row 1) eigenstate of H(t0); projective read-out in the eigenbasis of H(t)."""
    from scipy.integrate import solve_ivp

    def eig(t):
        w, vec = np.linalg.eigh(0.5 * np.array([[eps(t), 1.0], [1.0, -eps(t)]]))
        return vec  # columns: ground, excited

    def rhs(t, y):
        psi = y[:2] + 1j * y[2:]
        h = 0.5 * np.array([[eps(t), 1.0], [1.0, -eps(t)]])
        d = -1j * h @ psi
        return np.concatenate([d.real, d.imag])

    out_g, out_up = np.zeros((2, len(times))), np.zeros((2, len(times)))
    for k in range(2):
        psi0 = eig(t0)[:, k].astype(complex)
        sol = solve_ivp(
            rhs,
            (t0, times[-1]),
            np.concatenate([psi0.real, psi0.imag]),
            method="DOP853",
            t_eval=times,
            rtol=rtol,
            atol=atol,
        )
        for j, t in enumerate(times):
            psi = sol.y[:2, j] + 1j * sol.y[2:, j]
            out_g[k, j] = abs(np.vdot(eig(t)[:, 0], psi)) ** 2
            out_up[k, j] = abs(psi[0]) ** 2
    return out_g, out_up


def bloch_reference(eps, deps, t0, times, gamma, s, omega_c, T, theta, *, rtol=1e-12, atol=1e-13):
    """Adiabatic Bloch vectors (2 starts, len(times), 3) of Eq. (7)-(10) along ε(t) by DOP853,
    starting from r = (±1, 0, 0) at t0 (bare instantaneous eigenstates), Δ = 1."""
    from scipy.integrate import solve_ivp

    def rhs(t, y):
        energy, _, g1, g2, r_st = _rates(eps(t), 1.0, gamma, s, omega_c, T, theta)
        return _bloch_rhs(y, energy, deps(t) / energy**2, g1, g2, r_st)

    sol = solve_ivp(
        rhs, (t0, times[-1]), np.array([1.0, 0, 0, -1.0, 0, 0]), method="DOP853", t_eval=times, rtol=rtol, atol=atol
    )
    if not sol.success:
        raise RuntimeError(sol.message)
    return np.stack([sol.y[:3].T, sol.y[3:].T])
