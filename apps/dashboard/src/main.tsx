import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { NavProvider } from './nav';
import { Shell } from './shell';
import './styles.css';

const root = document.getElementById('root');
if (root) {
  createRoot(root).render(
    <StrictMode>
      <NavProvider>
        <Shell />
      </NavProvider>
    </StrictMode>,
  );
}
