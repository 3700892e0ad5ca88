/**
 * The panel file's entry (dist/panel-<hash>.js): everything the loader leaves out, loaded on intent.
 * It hands its mount function to the script element that loaded it, so it adds no global of its own.
 */
import { mountPanel } from './mount.ts'
import type { PanelScript } from './panel-host.ts'

;(document.currentScript as PanelScript).mountPanel = mountPanel
