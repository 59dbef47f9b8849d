// Test-only: compile the seed's single-file component in the browser, as written. Its <script>
// becomes an ES module (a blob: URL, so its bare imports resolve through the page's import map)
// and its <template> is compiled at run time by Vue's full build.
import { createApp, h } from 'vue';
import Chart, { animator } from 'chart.js/auto';

const source = await (await fetch('/seed-widget/ReportWidget.vue')).text();
const template = source.match(/<template>([\s\S]*)<\/template>/)[1];
const script = source.match(/<script>([\s\S]*)<\/script>/)[1];
const url = URL.createObjectURL(new Blob([script], { type: 'text/javascript' }));
const component = { ...(await import(url)).default, template };

const query = new URLSearchParams(location.search);
const props = {
  title: query.get('title') || 'Report',
  reportType: query.get('type'),
  dataSource: query.get('source') || undefined,
};
createApp({ render: () => h(component, props) }).mount('#app');
window.SeedChart = Chart; // the same module instance the widget imports: Chart.getChart(canvas)
window.SeedAnimator = animator; // animator.running(chart): is it still animating?
window.seedWidgetMounted = true;
