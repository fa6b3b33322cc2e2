// EmulatorFUSE
