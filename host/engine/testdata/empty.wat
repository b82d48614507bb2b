;; A component with no imports and no exports: the wrong world.
(component)
