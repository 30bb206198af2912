"""Task-based evaluation: would the sCT give the same plan as the CT?

One module per clinical use: ``proton`` (water-equivalent path length of proton beams), ``pet``
(511 keV attenuation correction factors and the regional bias they cause) and ``ultrasound``
(a focused transducer simulated through the skull). ``geometry`` finds the targets they share and
``measure`` runs the chosen tasks for one case, so ``evaluation`` only calls it.
"""
